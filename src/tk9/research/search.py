"""Web-search providers (Tavily, Brave) as extra evidence, when a key is configured.

Each provider is one HTTP call made with httpx and retried by tenacity on connection errors,
timeouts, 429 and 5xx; the results become :class:`Document`s whose URI is the page URL and
whose body is the provider's snippet. ``TK9_SEARCH_BASE_URL`` points a provider elsewhere
(tests use a local stub).
"""

from __future__ import annotations

from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from tk9.errors import ResearchError
from tk9.research.documents import Document
from tk9.settings import Settings

TAVILY_URL = "https://api.tavily.com"
BRAVE_URL = "https://api.search.brave.com"


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


class WebSearch:
    """Search the web through the configured provider."""

    def __init__(self, provider: str, api_key: str, base_url: str | None, attempts: int = 3):
        if provider not in ("tavily", "brave"):
            raise ValueError(f"unknown search provider {provider!r}")
        self.provider = provider
        self._key = api_key
        self._base = (base_url or (TAVILY_URL if provider == "tavily" else BRAVE_URL)).rstrip("/")
        self._attempts = attempts

    @classmethod
    def from_settings(cls, settings: Settings) -> WebSearch | None:
        if settings.search_provider == "none" or settings.search_api_key is None:
            return None
        return cls(
            settings.search_provider,
            settings.search_api_key.get_secret_value(),
            settings.search_base_url,
        )

    async def search(self, query: str, limit: int = 5) -> list[Document]:
        try:
            async with httpx.AsyncClient(timeout=30.0) as client:
                async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(self._attempts),
                    wait=wait_exponential(multiplier=0.2, max=5),
                    retry=retry_if_exception(_retryable),
                    reraise=True,
                ):
                    with attempt:
                        data = await self._call(client, query, limit)
        except httpx.HTTPError as exc:
            raise ResearchError(f"{self.provider} search failed: {exc}") from exc
        return self._documents(data)[:limit]

    async def _call(self, client: httpx.AsyncClient, query: str, limit: int) -> Any:
        if self.provider == "tavily":
            response = await client.post(
                f"{self._base}/search",
                json={"query": query, "max_results": limit, "search_depth": "basic"},
                headers={"Authorization": f"Bearer {self._key}"},
            )
        else:
            response = await client.get(
                f"{self._base}/res/v1/web/search",
                params={"q": query, "count": limit},
                headers={"X-Subscription-Token": self._key, "Accept": "application/json"},
            )
        response.raise_for_status()
        return response.json()

    def _documents(self, data: Any) -> list[Document]:
        if self.provider == "tavily":
            items = data.get("results", []) if isinstance(data, dict) else []
            pairs = [(i.get("url"), i.get("title"), i.get("content")) for i in items]
        else:
            web = data.get("web", {}) if isinstance(data, dict) else {}
            items = web.get("results", []) if isinstance(web, dict) else []
            pairs = [
                (
                    i.get("url"),
                    i.get("title"),
                    " ".join([i.get("description") or "", *i.get("extra_snippets", [])]),
                )
                for i in items
            ]
        return [
            Document(uri=str(url), title=str(title or url), body=str(body))
            for url, title, body in pairs
            if url and body
        ]
