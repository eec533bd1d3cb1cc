"""What a rule does to the lead besides replying: Dashly lead properties to set and an event to
track (values are answer templates, rendered at delivery)."""

from __future__ import annotations

from typing import Any

from app.rules.reader import RuleReader
from app.rules.templates import Answer, AnswerTemplateError, compile_answer


def read_templates(reader: RuleReader, key: str) -> tuple[tuple[str, Answer], ...]:
    """A table of name → answer template (`props`, `event_params`)."""
    value = reader.table.get(key)
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        reader.problem(key, f'{key!r} must be a table of names and text, e.g. {{ name = "..." }}')
        return ()
    compiled = []
    for name, source in value.items():
        if not 1 <= len(name) <= 255:
            reader.problem(key, f"{key!r}: a name must have 1 to 255 characters")
            continue
        try:
            compiled.append((name, compile_answer(source.strip())))
        except AnswerTemplateError as error:
            reader.problem(key, f"{key!r}: {name!r}: {error}")
    return tuple(compiled)


def read_event(reader: RuleReader) -> str | None:
    value: Any = reader.table.get("event")
    if value is None:
        if "event_params" in reader.table:
            reader.problem("event_params", "'event_params' needs an 'event'")
        return None
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= 255:
        reader.problem("event", "'event' must be a name of 1 to 255 characters")
        return None
    return value.strip()
