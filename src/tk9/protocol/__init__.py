"""The delivery protocol: pure and synchronous (no asyncio, no I/O).

Fed client frames, new log entries and the current time, it returns frames to send and close
requests. The WebSocket, SSE and long-poll endpoints and the Python client are thin loops
around it.
"""
