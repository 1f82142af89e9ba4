"""Fault-injection harness: network namespaces, a real nginx, a seeded TCP fault proxy,
tk9 server processes and a delivery checker. Used by the fault-matrix tests and by the
``tk9 diagnose`` tests; needs root (namespaces, veth, iptables)."""
