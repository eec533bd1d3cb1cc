"""The calls a queued item makes, one dataclass per kind, and their JSON in the outbox (the same
`{"do": KIND, ...}` objects rows have always held, so rows queued before read the same)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class Typing:
    """Show "typing…" this many seconds before the answer."""

    kind: ClassVar[str] = "typing"
    seconds: int


@dataclass(frozen=True)
class Reply:
    """The answer: its text (`body`), or, when it uses the lead's name, its template with the
    pattern's groups, rendered at delivery once the name is fetched."""

    kind: ClassVar[str] = "reply"
    body: str | None = None
    template: str | None = None
    match: dict[str, str] = field(default_factory=dict)
    lead: str | None = None


@dataclass(frozen=True)
class Assign:
    """Hand the conversation to this operator."""

    kind: ClassVar[str] = "assign"
    admin: str


@dataclass(frozen=True)
class Note:
    """A note only the operators see, rendered at delivery; `message` is the lead's message it
    may quote (left out when Dashly finds the note too long)."""

    kind: ClassVar[str] = "note"
    random_id: int
    template: str
    match: dict[str, str] = field(default_factory=dict)
    message: str = ""
    lead: str | None = None


@dataclass(frozen=True)
class Tag:
    kind: ClassVar[str] = "tag"
    tag: str


@dataclass(frozen=True)
class Close:
    kind: ClassVar[str] = "close"
    random_id: int


@dataclass(frozen=True)
class Props:
    """Lead properties: (name, template) pairs, rendered at delivery."""

    kind: ClassVar[str] = "props"
    lead: str
    props: list[list[str]]
    match: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """An event tracked on the lead, its params (name, template) rendered at delivery."""

    kind: ClassVar[str] = "event"
    lead: str
    event: str
    params: list[list[str]] = field(default_factory=list)
    match: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Unknown:
    """A row's action of a kind this version does not know: it fails for good, listed."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


Action = Typing | Reply | Assign | Note | Tag | Close | Props | Event | Unknown
KINDS: dict[str, type[Any]] = {
    cls.kind: cls for cls in (Typing, Reply, Assign, Note, Tag, Close, Props, Event)
}


def action_from_json(data: dict[str, Any]) -> Action:
    """An action as a row holds it; unknown kinds and fields are kept, not guessed at."""
    kind = data.get("do", "")
    cls = KINDS.get(kind)
    names = {f.name for f in fields(cls)} if cls is not None else set()
    values = {key: value for key, value in data.items() if key != "do"}
    if cls is None or not set(values) <= names:
        return Unknown(str(kind), values)
    try:
        return cls(**{k: v for k, v in values.items() if v is not None})  # type: ignore[no-any-return]
    except TypeError:  # a required field missing
        return Unknown(str(kind), values)


def action_to_json(action: Action) -> dict[str, Any]:
    """The row's form: `{"do": KIND, ...}`, fields left at None not written."""
    if isinstance(action, Unknown):
        return {"do": action.kind, **action.data}
    return {"do": action.kind, **{k: v for k, v in asdict(action).items() if v is not None}}
