"""Thin FastAPI/Starlette drivers: REST, WebSocket, SSE, long-poll, static files."""
