"""The public URL under test: its HTTP and WebSocket forms and what they imply."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from tk9.errors import InvalidInput


@dataclass(frozen=True)
class Target:
    """``base`` is ``scheme://host[:port][/prefix]`` without a trailing slash."""

    base: str
    scheme: str
    host: str

    @property
    def ws_base(self) -> str:
        """The WebSocket origin a dashboard loaded from ``base`` uses (wss:// under https)."""
        return ("wss" if self.scheme == "https" else "ws") + self.base[len(self.scheme) :]

    def http(self, path: str) -> str:
        return self.base + path

    def ws(self, path: str) -> str:
        return self.ws_base + path

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_target(url: str) -> Target:
    """Validate ``url`` (http or https, with a host) and normalise it."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise InvalidInput(f"URL must start with http:// or https://, got {url!r}")
    if not parts.hostname:
        raise InvalidInput(f"URL has no host: {url!r}")
    if parts.query or parts.fragment:
        raise InvalidInput("give the site's base URL, without query or fragment")
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    return Target(base=base, scheme=parts.scheme, host=parts.hostname)
