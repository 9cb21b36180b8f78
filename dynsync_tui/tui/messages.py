"""Messages shared between screens and workers. Workers post these; screens update widgets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class WorkerFailed(Message):
    """A worker failed; ``text`` is one line in words for the status line."""

    text: str


@dataclass
class Connected(Message):
    lines: list[str]


@dataclass
class MetadataLoaded(Message):
    """Mapping-screen metadata: CRM attributes per entity, Dotdigital data fields."""

    attributes: dict[str, list[Any]]
    data_fields: list[str]
    relationships: dict[str, list[Any]] = field(default_factory=dict)


@dataclass
class ListsLoaded(Message):
    lists: list[Any]
    address_books: list[Any] = field(default_factory=list)
    columns: list[Any] = field(default_factory=list)  # candidates for "Activated for Email"
    column: str = ""  # the column the lists were read with


@dataclass
class PreviewLoaded(Message):
    verdicts: list[Any]
    index: Any  # widgets.preview_index.PreviewIndex


@dataclass
class Exported(Message):
    text: str


@dataclass
class RowsSelected(Message):
    """Result of a filter/search/sort computed off the UI thread."""

    rows: Any  # Sequence[int]
    generation: int


@dataclass
class SyncProgress(Message):
    """The latest engine progress event. A pile of these collapses into the newest one."""

    progress: Any  # sync.events.Progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SyncProgress)


@dataclass
class SyncLog(Message):
    line: str
    notice: bool = False  # throttling / retry: also shown as a warning line


@dataclass
class SyncFinished(Message):
    summary: Any | None  # RunSummary, None when cancelled before a summary
    cancelled: bool = False
    error: str = ""


@dataclass
class RunsLoaded(Message):
    runs: list[Any] = field(default_factory=list)


@dataclass
class RunRecordsLoaded(Message):
    run_id: Any
    records: list[Any] = field(default_factory=list)


def one_line(exc: BaseException) -> str:
    """An exception as one line in words, never a traceback."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "…"


def get(obj: Any, name: str, default: Any = None) -> Any:
    """Read ``name`` from a dataclass-ish object or a dict (service results vary in shape)."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)
