"""The event model: the envelope every log entry has, and the typed payloads.

An event is ``{seq, epoch, timestamp, event_type, payload}``. ``seq`` is assigned by the log in
the append transaction (strictly increasing from 1 within a session's stream); ``epoch``
identifies the stream, so a cursor from a different incarnation of the log is recognised.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from enum import StrEnum
from operator import itemgetter
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter


class AgentName(StrEnum):
    """The seven agents, in pipeline order. The names are part of the product."""

    ORCHESTRATOR = "Orchestrator"
    BROWSER = "Browser"
    EDITOR = "Editor"
    RESEARCHER = "Researcher"
    WRITER = "Writer"
    PUBLISHER = "Publisher"
    TRANSLATOR = "Translator"


AGENTS: tuple[AgentName, ...] = tuple(AgentName)


class AgentStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


class RunStatus(StrEnum):
    """Overall status of a research session. The last five are terminal.

    ``completed_with_warnings`` is a finished run whose report is honest but incomplete: the
    evidence covers the subject only in part, or the requested language could not be produced.
    It is never shown as plain success; ``research_status.warnings`` says why.
    """

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_WARNINGS = "completed_with_warnings"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


TERMINAL_RUN_STATUSES = frozenset(
    {
        RunStatus.COMPLETED,
        RunStatus.COMPLETED_WITH_WARNINGS,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.INTERRUPTED,
    }
)


class EventType(StrEnum):
    RESEARCH_STATUS = "research_status"
    AGENT_UPDATE = "agent_update"
    FILE_GENERATED = "file_generated"
    LOG = "log"
    ERROR = "error"
    COVERAGE = "coverage"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class FileKind(StrEnum):
    MD = "md"
    PDF = "pdf"
    DOCX = "docx"
    HTML = "html"


Progress = Annotated[int, Field(ge=0, le=100)]
Text = Annotated[str, Field(max_length=4000)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResearchStatusPayload(_Payload):
    """Overall run status, emitted by the Orchestrator."""

    status: RunStatus
    progress: Progress
    stage: Text = ""
    error: Text | None = None
    warnings: Annotated[list[Text], Field(max_length=50)] = []
    """Set on a terminal ``completed_with_warnings``: what the report lacks, one line each."""


Heading = Annotated[str, Field(max_length=300)]


class SectionWords(_Payload):
    """One section the Writer put in the report, with its word count."""

    heading: Heading
    words: Annotated[int, Field(ge=0)]


class AgentWork(_Payload):
    """What an agent worked on, for its panel (set on its ``completed`` update): the Editor's
    outline, the Writer's sections and their word counts, the Translator's engine and language.
    The Browser's sources are the ``coverage`` event's."""

    outline: Annotated[list[Heading], Field(max_length=50)] = []
    sections: Annotated[list[SectionWords], Field(max_length=50)] = []
    engine: Annotated[str, Field(max_length=200)] = ""
    language: Annotated[str, Field(max_length=16)] = ""


class AgentUpdatePayload(_Payload):
    agent: AgentName
    status: AgentStatus
    progress: Progress = 0
    message: Text = ""
    work: AgentWork | None = None
    """What the agent worked on; the projection keeps the last one given."""


class FileGeneratedPayload(_Payload):
    """A file fully written to disk (atomically) and ready to download."""

    name: Annotated[str, Field(min_length=1, max_length=255)]
    kind: FileKind
    language: Annotated[str, Field(min_length=2, max_length=16)]
    size_bytes: Annotated[int, Field(ge=0)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    path: Annotated[str, Field(max_length=1024)]
    """Download path relative to the site root, e.g. ``/api/sessions/{id}/files/{name}``."""


class LogPayload(_Payload):
    level: LogLevel = LogLevel.INFO
    message: Text
    agent: AgentName | None = None


class ErrorPayload(_Payload):
    code: Annotated[str, Field(max_length=64)]
    message: Text
    agent: AgentName | None = None


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class PhraseCoverage(_Payload):
    """How well the cited evidence covers one key phrase of the subject."""

    phrase: Annotated[str, Field(max_length=200)]
    score: Fraction
    covered: bool


class SourceRelevance(_Payload):
    """One source the Browser judged, with its relevance to the subject."""

    title: Annotated[str, Field(max_length=500)]
    uri: Annotated[str, Field(max_length=2048)]
    relevance: Fraction
    cited: bool = False


class CoveragePayload(_Payload):
    """How well a run's evidence covers its subject (emitted once the report is written)."""

    score: Fraction
    """Weighted share of the subject's key phrases that the cited evidence covers."""
    phrases: Annotated[list[PhraseCoverage], Field(max_length=50)] = []
    sources: Annotated[list[SourceRelevance], Field(max_length=100)] = []
    summary: Text = ""
    """One sentence a reader understands, e.g. "The sources cover 3 of 3 key phrases"."""


Payload = (
    ResearchStatusPayload
    | AgentUpdatePayload
    | FileGeneratedPayload
    | LogPayload
    | ErrorPayload
    | CoveragePayload
)

PAYLOAD_MODELS: dict[EventType, type[_Payload]] = {
    EventType.RESEARCH_STATUS: ResearchStatusPayload,
    EventType.AGENT_UPDATE: AgentUpdatePayload,
    EventType.FILE_GENERATED: FileGeneratedPayload,
    EventType.LOG: LogPayload,
    EventType.ERROR: ErrorPayload,
    EventType.COVERAGE: CoveragePayload,
}


def event_type_of(payload: Payload) -> EventType:
    """The event type a payload model belongs to."""
    for event_type, model in PAYLOAD_MODELS.items():
        if type(payload) is model:
            return event_type
    raise TypeError(f"not an event payload: {type(payload).__name__}")


def validate_payload(event_type: EventType | str, payload: dict[str, Any]) -> dict[str, Any]:
    """Check ``payload`` against its schema and return its canonical JSON form."""
    model = PAYLOAD_MODELS[EventType(event_type)]
    return model.model_validate(payload).model_dump(mode="json")


class Event(BaseModel):
    """A log entry as stored and as sent on the wire."""

    model_config = ConfigDict(frozen=True)

    seq: Annotated[int, Field(ge=1)]
    epoch: str
    timestamp: float
    """Wall-clock time of the append, Unix seconds."""
    event_type: EventType
    payload: dict[str, Any]
    _json: str | None = PrivateAttr(default=None)

    @classmethod
    def from_stored(
        cls, seq: int, epoch: str, timestamp: float, event_type: EventType, payload_json: str
    ) -> Event:
        """An event read back from a log: ``payload_json`` is the stored (compact) payload text.

        No validation and no pydantic work per event (what :meth:`model_construct` does, minus
        its generic bookkeeping), and :meth:`to_json` is pre-built from the stored text, so
        replaying a long history encodes nothing twice. The text parses to exactly what
        :meth:`model_dump_json` would produce (key order and values; a float may be spelled
        differently, e.g. ``1e+16`` for ``1e16``).
        """
        text = stored_event_json(
            seq, _json_string(epoch), timestamp, event_type.value, payload_json
        )
        return cls._trusted(seq, epoch, timestamp, event_type, json.loads(payload_json), text)

    @classmethod
    def from_text(cls, seq: int, epoch: str, text: str) -> Event:
        """The event whose :meth:`to_json` is ``text``, text a log wrote itself (trusted: not
        validated). A log keeps recent entries as their JSON text, which the cyclic collector
        does not track, and builds the event only when a reader asks."""
        fields = json.loads(text)
        kind = EventType(fields["event_type"])
        return cls._trusted(seq, epoch, fields["timestamp"], kind, fields["payload"], text)

    @classmethod
    def _trusted(
        cls,
        seq: int,
        epoch: str,
        timestamp: float,
        event_type: EventType,
        payload: dict[str, Any],
        text: str,
    ) -> Event:
        """An event from fields and JSON text a log wrote itself: no validation and no pydantic
        work (what :meth:`model_construct` does, minus its generic bookkeeping)."""
        event = cls.__new__(cls)
        _set = object.__setattr__
        fields = {
            "seq": seq,
            "epoch": epoch,
            "timestamp": timestamp,
            "event_type": event_type,
            "payload": payload,
        }
        _set(event, "__dict__", fields)
        _set(event, "__pydantic_fields_set__", _ALL_FIELDS.copy())
        _set(event, "__pydantic_extra__", None)
        _set(event, "__pydantic_private__", {"_json": text})
        return event

    def __eq__(self, other: object) -> bool:
        """Equal fields: the cached JSON text (:meth:`to_json`) is not part of an event."""
        if isinstance(other, Event):
            return type(self) is type(other) and self.__dict__ == other.__dict__
        return NotImplemented

    def to_json(self) -> str:
        """The JSON text of this event, computed once and shared by every viewer."""
        private = self.__pydantic_private__  # a slot: ``self._json`` goes through __getattr__
        text: str | None = private["_json"]  # type: ignore[index]
        if text is None:
            text = private["_json"] = self.model_dump_json()  # type: ignore[index]
        return text

    def typed_payload(self) -> Payload:
        """The payload parsed into its model."""
        model = PAYLOAD_MODELS[self.event_type]
        return model.model_validate(self.payload)  # type: ignore[return-value]


_ALL_FIELDS = set(Event.model_fields)


class Entry(Protocol):
    """What delivery needs of a log entry: its place in the stream and its JSON text.

    :class:`Event` is one; so is :class:`StoredEntry`, which a log hands to a replay so that
    a long history is sent without parsing any payload.
    """

    @property
    def seq(self) -> int: ...

    @property
    def epoch(self) -> str: ...

    def to_json(self) -> str: ...


class StoredEntry(tuple[int, str, str]):
    """A log entry read back for sending only: ``(seq, epoch, JSON text)``.

    Its text is character for character :meth:`Event.to_json`'s, built without ``json.loads``
    of the payload or a pydantic object. It is a tuple so that a log builds one per row in C
    (:data:`new_stored_entry`): on a catch-up from ``after=0`` of a long session every
    per-entry microsecond counts. :meth:`event` parses it when a caller needs the fields.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def seq(self) -> int: ...

        @property
        def epoch(self) -> str: ...

    else:
        seq = property(itemgetter(0))
        epoch = property(itemgetter(1))

    def to_json(self) -> str:
        return self[2]

    def event(self) -> Event:
        """The full event (validated from the text)."""
        return Event.model_validate_json(self[2])

    def __repr__(self) -> str:
        return f"StoredEntry(seq={self[0]}, epoch={self[1]!r})"


new_stored_entry: Callable[[tuple[int, str, str]], StoredEntry] = functools.partial(
    tuple.__new__, StoredEntry
)
"""``(seq, epoch, text)`` -> :class:`StoredEntry`, with no Python frame per call."""


def entries_from_texts(first_seq: int, epoch: str, texts: Sequence[str]) -> list[StoredEntry]:
    """Consecutive entries kept as their JSON text (``texts[i]`` is entry ``first_seq + i``),
    for sending."""
    entry = new_stored_entry
    return [entry((first_seq + i, epoch, text)) for i, text in enumerate(texts)]


def events_from_texts(first_seq: int, epoch: str, texts: Sequence[str]) -> list[Event]:
    """:func:`entries_from_texts`, as events (each text parsed)."""
    event = Event.from_text
    return [event(first_seq + i, epoch, text) for i, text in enumerate(texts)]


def stored_event_json(
    seq: int, epoch_json: str, timestamp: float, event_type: str, payload_json: str
) -> str:
    """An event's JSON text from its stored columns (``epoch_json``: the epoch as JSON)."""
    return (
        f'{{"seq":{seq},"epoch":{epoch_json},"timestamp":{timestamp!r},'
        f'"event_type":"{event_type}","payload":{payload_json}}}'
    )


@functools.lru_cache(maxsize=256)
def _json_string(value: str) -> str:
    """JSON text of a string (an epoch: one per session, so nearly always cached)."""
    return json.dumps(value)


EVENT_LIST = TypeAdapter(list[Event])
