"""A streaming chat-completions client that survives real servers (llama.cpp, Ollama, vLLM, …).

Why each piece exists (all seen against a real llama.cpp server):

* ``max_tokens`` is sent on every call, so a rambling model stops instead of running into the
  timeout.
* Answers are streamed (``stream: true``; the SSE framing is parsed by ``httpx-sse``), so a
  model that is slow but working is told apart from one that stalled: httpx's *read* timeout
  is the longest silence allowed between two chunks, the *connect* timeout is separate, and an
  optional overall bound caps one attempt. Each received chunk can be reported (progress).
* At most ``concurrency`` calls are in flight (a llama.cpp server with one slot queues the
  rest, silently, and a queued request would hit the read timeout); waiting for a slot is not
  timed.
* tenacity retries connection errors, timeouts, 429 and 5xx, waiting what ``Retry-After`` says
  (seconds or an HTTP date, capped) or backing off exponentially; any other 4xx is final.
* After the last attempt the error names the cause, the URL and the attempts made — never an
  empty reason.

A server that ignores ``stream`` and answers with one JSON document is accepted too, and a
reasoning model's ``<think>`` block is dropped from the answer.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from httpx_sse import aconnect_sse
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from tk9.errors import ResearchError
from tk9.research.text import counted

log = logging.getLogger(__name__)

TokenCallback = Callable[[int], Awaitable[None]]
"""Called with the number of tokens received so far, after each streamed chunk."""
RetryCallback = Callable[[str], Awaitable[None]]
"""Called before a retry's wait with what failed, e.g. ``"HTTP 429; retrying in 2 s (attempt
2 of 3)"``."""
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds: to open the connection, of silence between two chunks, for one whole attempt."""

    connect: float = 10.0
    read: float = 60.0
    total: float | None = 300.0


@dataclass(frozen=True, slots=True)
class Completion:
    """One answer: its text, why the model stopped (``"length"``: hit ``max_tokens``)."""

    text: str
    finish_reason: str | None = None
    tokens: int = 0


class ModelRejected(ResearchError):
    """The server refused the request itself (a 4xx other than 429): retrying cannot help."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, status=status)
        self.status_code = status


class _StreamError(Exception):
    """The server reported an error inside the stream (retried like a 5xx)."""


class _AttemptTimeout(Exception):
    """One attempt exceeded :attr:`Timeouts.total` (not retried: the model is too slow)."""


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from ``now``: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


_THINKING = re.compile(r"^\s*<think>.*?(</think>|$)", re.DOTALL)


def without_thinking(text: str) -> str:
    """The answer without a leading ``<think>…</think>`` block, which reasoning models
    (DeepSeek-R1, Qwen3 on Ollama or llama.cpp) put in the content itself."""
    return _THINKING.sub("", text, count=1).strip()


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError | _StreamError)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _error_detail(response: httpx.Response) -> str:
    """The server's own error message, shortened, if it sent one."""
    try:
        data: Any = response.json()
    except (ValueError, httpx.ResponseNotRead):
        return response.text[:200].strip() if response.is_closed else ""
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    return str(error)[:200] if error else ""


def _content(data: Any) -> tuple[str, str | None]:
    """Text and finish reason of a non-streamed chat completion."""
    try:
        choice = data["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ResearchError("the language model sent a malformed reply") from exc
    return (content if isinstance(content, str) else ""), choice.get("finish_reason")


class ChatClient:
    """Chat completions from one OpenAI-compatible endpoint, streamed and retried."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout: float | Timeouts = Timeouts(),
        attempts: int = 3,
        *,
        retry_after_cap: float = 30.0,
        backoff: float = 0.5,
        sleep: Sleep = asyncio.sleep,
        concurrency: int = 1,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        if not isinstance(timeout, Timeouts):
            timeout = Timeouts(connect=timeout, read=timeout, total=None)
        self.timeouts = timeout
        self.attempts = attempts
        self.retry_after_cap = retry_after_cap
        self._backoff = wait_exponential(multiplier=backoff, max=retry_after_cap)
        self._sleep = sleep
        self._slots = asyncio.Semaphore(concurrency)

    @property
    def busy(self) -> bool:
        """Whether a call made now would wait for another to finish first."""
        return self._slots.locked()

    async def complete(
        self,
        system: str,
        user: str,
        temperature: float = 0.2,
        *,
        max_tokens: int | None = None,
        json_mode: bool = False,
        on_tokens: TokenCallback | None = None,
    ) -> str:
        """The answer's text; raises :class:`ResearchError` when it is empty."""
        answer = await self.chat(
            system,
            user,
            temperature,
            max_tokens=max_tokens,
            json_mode=json_mode,
            on_tokens=on_tokens,
        )
        if not answer.text:
            raise ResearchError(f"the model at {self.url} sent an empty reply")
        return answer.text

    async def chat(
        self,
        system: str,
        user: str,
        temperature: float = 0.2,
        *,
        max_tokens: int | None = None,
        json_mode: bool = False,
        on_tokens: TokenCallback | None = None,
        on_retry: RetryCallback | None = None,
    ) -> Completion:
        """Stream one completion, retrying what a retry can fix; see the module doc."""
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": temperature,
            "stream": True,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
        }
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        t = self.timeouts
        timeout = httpx.Timeout(connect=t.connect, read=t.read, write=t.read, pool=t.connect)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception(_retryable),
            sleep=self._sleep,
            before_sleep=functools.partial(self._retrying, on_retry=on_retry),
            reraise=True,
        )
        try:
            async with self._slots, httpx.AsyncClient(timeout=timeout) as client:
                async for attempt in retrying:
                    with attempt:
                        return await self._attempt(client, body, on_tokens)
        except (httpx.HTTPError, _StreamError) as exc:
            raise self._describe(exc, retrying.statistics.get("attempt_number", 1)) from exc
        except _AttemptTimeout as exc:
            raise ResearchError(
                f"the model at {self.url} did not finish its answer within {t.total:g} s "
                "(TK9_LLM_TIMEOUT, the overall limit of one call); raise it, lower the "
                "max_tokens settings or use a faster model"
            ) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _wait(self, state: RetryCallState) -> float:
        """What ``Retry-After`` asks for (capped), else exponential back-off."""
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, httpx.HTTPStatusError):
            asked = retry_after_seconds(exc.response.headers.get("retry-after"))
            if asked is not None:
                return min(asked, self.retry_after_cap)
        return float(self._backoff(state))

    async def _retrying(self, state: RetryCallState, on_retry: RetryCallback | None) -> None:
        """Log a failed attempt that will be retried, and tell ``on_retry`` (tenacity awaits
        this because it is a coroutine function, which a lambda would not be)."""
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        message = (
            f"{self._cause(exc)}; retrying in {wait:.0f} s "
            f"(attempt {state.attempt_number + 1} of {self.attempts})"
        )
        log.warning("model call to %s failed: %s", self.url, message)
        if on_retry is not None:
            await on_retry(message)

    def _cause(self, exc: BaseException | None) -> str:
        """A failed attempt's cause in a few words."""
        if isinstance(exc, httpx.HTTPStatusError):
            return f"the model answered HTTP {exc.response.status_code}"
        if isinstance(exc, httpx.ReadTimeout):
            return f"no data from the model for {self.timeouts.read:g} s (read timeout)"
        if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
            return "the model could not be reached"
        return f"the call failed ({_reason(exc)})" if exc is not None else "the call failed"

    async def _attempt(
        self, client: httpx.AsyncClient, body: dict[str, Any], on_tokens: TokenCallback | None
    ) -> Completion:
        scope = asyncio.timeout(self.timeouts.total)
        try:
            async with scope:
                return await self._stream(client, body, on_tokens)
        except TimeoutError as exc:
            if scope.expired():
                raise _AttemptTimeout() from exc
            raise

    async def _stream(
        self, client: httpx.AsyncClient, body: dict[str, Any], on_tokens: TokenCallback | None
    ) -> Completion:
        headers = dict(self._headers)
        async with aconnect_sse(client, "POST", self.url, json=body, headers=headers) as source:
            response = source.response
            if response.status_code >= 400:
                await response.aread()
                response.raise_for_status()
            if "text/event-stream" not in response.headers.get("content-type", ""):
                await response.aread()  # a server that ignores "stream": one JSON answer
                text, reason = _content(response.json())
                return Completion(without_thinking(text), reason, 0)
            parts: list[str] = []
            tokens = 0
            finish: str | None = None
            async for event in source.aiter_sse():
                if event.data.strip() == "[DONE]":
                    break
                if not event.data.strip():
                    continue
                try:
                    chunk: Any = json.loads(event.data)
                except json.JSONDecodeError as exc:
                    raise ResearchError(
                        f"the model at {self.url} sent a malformed stream chunk"
                    ) from exc
                if not isinstance(chunk, dict):
                    continue
                if error := chunk.get("error"):
                    detail = error.get("message") if isinstance(error, dict) else error
                    raise _StreamError(str(detail or "no detail")[:200])
                usage = chunk.get("usage")
                choices = chunk.get("choices") or [{}]
                choice = choices[0] if isinstance(choices[0], dict) else {}
                delta = choice.get("delta") or {}
                content = delta.get("content")
                finish = choice.get("finish_reason") or finish
                if isinstance(content, str) and content:
                    parts.append(content)
                    tokens += 1
                elif delta.get("reasoning_content"):  # a thinking model: progress, no text
                    tokens += 1
                if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                    tokens = max(tokens, usage["completion_tokens"])
                if on_tokens is not None and (content or usage or delta):
                    await on_tokens(tokens)
            return Completion(without_thinking("".join(parts)), finish, tokens)

    def _describe(self, exc: BaseException, attempts: int) -> ResearchError:
        """A final error that says what went wrong, where, and how often it was tried."""
        tried = f"after {counted(attempts, 'attempt')}"
        t = self.timeouts
        if isinstance(exc, httpx.HTTPStatusError):
            status = exc.response.status_code
            detail = _error_detail(exc.response)
            detail = f" ({detail})" if detail else ""
            if status == 429 or status >= 500:
                return ResearchError(
                    f"the model at {self.url} answered HTTP {status}{detail} {tried}"
                )
            return ModelRejected(
                f"the model at {self.url} refused the request: HTTP {status}{detail}", status
            )
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            return ResearchError(
                f"the model at {self.url} could not be reached within {t.connect:g} s "
                f"(connect timeout) {tried}"
            )
        if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout):
            return ResearchError(
                f"the model at {self.url} did not answer within {t.read:g} s (read timeout: "
                f"no data for that long) {tried}"
            )
        if isinstance(exc, _StreamError):
            return ResearchError(
                f"the model at {self.url} reported an error mid-answer ({exc}) {tried}"
            )
        if isinstance(exc, httpx.ConnectError):
            return ResearchError(
                f"the model at {self.url} could not be reached ({_reason(exc)}) {tried}"
            )
        return ResearchError(f"the call to the model at {self.url} failed ({_reason(exc)}) {tried}")
