"""What a rule does in the conversation besides replying and tagging: a note for the operators
(`note`) and closing it (`close`)."""

from __future__ import annotations

from app.rules.reader import RuleReader
from app.rules.templates import Answer, AnswerTemplateError, compile_answer


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
