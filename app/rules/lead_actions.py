"""What a rule does besides replying: Dashly lead properties to set and an event to track
(values are answer templates, rendered at delivery), a note and closing; and the channels and
languages it answers in."""

from __future__ import annotations

from typing import Any, Protocol

from app.rules.templates import Answer, AnswerTemplateError, compile_answer


class RuleReader(Protocol):
    """What these readers need of validation's RuleReader (one `[[rule]]` table)."""

    table: dict[str, Any]
    failed: bool

    def problem(self, key: str | None, message: str) -> None: ...

    def strings(self, key: str, *, single_allowed: bool = False) -> list[str]: ...

    def boolean(self, key: str) -> bool: ...


# The languages a message is told to be in by its letters (app.text.language_of).
LANGUAGES = ("ru", "en")


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


def read_channels(reader: RuleReader) -> frozenset[str]:
    channels = reader.strings("channels")
    if "channels" in reader.table and not channels and not reader.failed:
        reader.problem("channels", "'channels' must not be empty (leave it out for every channel)")
    return frozenset(channel.strip() for channel in channels if channel.strip())


def read_note(reader: RuleReader) -> Answer | None:
    value = reader.table.get("note")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        reader.problem(
            "note", "'note' must be a text for the operators, e.g. \"Asked: {{ message }}\""
        )
        return None
    try:
        return compile_answer(value.strip(), with_message=True)
    except AnswerTemplateError as error:
        reader.problem("note", f"'note': {error}")
        return None


def read_close(reader: RuleReader) -> bool:
    close = reader.boolean("close")
    if close and "assign" in reader.table:
        reader.problem(
            "close",
            "'close' and 'assign' exclude each other: a conversation handed to an operator "
            "stays open for them",
        )
    return close


def read_languages(reader: RuleReader) -> frozenset[str]:
    chosen = reader.strings("language", single_allowed=True)
    wrong = [value for value in chosen if value not in LANGUAGES]
    if wrong or ("language" in reader.table and not chosen and not reader.failed):
        allowed = " or ".join(map(repr, LANGUAGES))
        reader.problem("language", f"'language' must be {allowed} or a list of them")
        return frozenset()
    return frozenset(chosen)
