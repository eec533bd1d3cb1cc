"""Validating one `[[rule]]` table into a Rule, with a file:line message for each problem."""

from __future__ import annotations

import difflib
import unicodedata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import regex

from app.rules.context import read_channels, read_languages, read_tag_conditions
from app.rules.conversation_actions import read_close, read_note
from app.rules.examples import read_examples, read_min_similarity
from app.rules.hours import HourRange, HoursError, parse_hours
from app.rules.keys import KNOWN_KEYS
from app.rules.lead_actions import read_event, read_templates
from app.rules.literals import required_literals, required_marks
from app.rules.model import PATTERN_FLAGS, Phrase, Rule, Source, compile_phrase, matches_empty_text
from app.rules.pattern_size import pattern_too_big
from app.rules.templates import Answer, AnswerTemplateError, compile_answer
from app.text import fold, normalise, read_yo_as_e, zone_hint

RULE_ID = regex.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Unknown keys named per rule (a pasted file of thousands says the first few, then how many).
SAID_AT_MOST = 10


def key_line(text: str, key: str, start_line: int, end_line: int | None = None) -> int:
    """Line of `key = ...` within a table (1-based); the table's line when not found."""
    lines = text.splitlines()
    stop = end_line - 1 if end_line else len(lines)
    finder = regex.compile(rf"^\s*[\"']?{regex.escape(key)}[\"']?\s*=")
    for number in range(max(start_line - 1, 0), stop):
        if finder.match(lines[number]):
            return number + 1
    return max(start_line, 1)


class RuleReader:
    """Validates one `[[rule]]` table, appending a file:line message for each problem."""

    def __init__(
        self,
        path: Path,
        text: str,
        line: int,
        next_line: int | None,
        table: Any,
        problems: list[str],
    ) -> None:
        self.path, self.text, self.line, self.next_line = path, text, line, next_line
        self.table, self.problems = table, problems
        self.failed = False
        self.rule_id = table.get("id") if isinstance(table, dict) else None

    def problem(self, key: str | None, message: str) -> None:
        line = key_line(self.text, key, self.line, self.next_line) if key else self.line
        who = f"rule {self.rule_id!r}" if isinstance(self.rule_id, str) else "rule without id"
        self.problems.append(f"{self.path}:{line}: {who}: {message}")
        self.failed = True

    def read(self) -> Rule | None:
        if not isinstance(self.table, dict):
            self.problem(None, "must be a table")
            return None
        self.unknown_keys()
        rule_id = self.identifier()
        examples = read_examples(self)
        fallback, typos, phrases, patterns = self.triggers(bool(examples))
        answers = self.answers()
        hours, outside = self.hours("hours"), self.hours("outside_hours")
        if hours and outside:
            self.problem("outside_hours", "'hours' and 'outside_hours' exclude each other")
        if_tags, unless_tags = read_tag_conditions(self)
        rule = Rule(
            id=rule_id,
            source=Source(str(self.path), self.line),
            order=0,
            phrases=phrases,
            patterns=patterns,
            pattern_literals=tuple(required_literals(p.pattern) for p in patterns),
            pattern_marks=tuple(required_marks(p.pattern) for p in patterns),
            answers=answers,
            priority=self.integer("priority"),
            fallback=fallback,
            repeat=self.boolean("repeat"),
            hours=hours,
            outside_hours=outside,
            timezone=self.zone(),
            tags=self.tags(),
            assign=self.assignee(),
            note=read_note(self),
            close=read_close(self),
            props=read_templates(self, "props"),
            event=read_event(self),
            event_params=read_templates(self, "event_params"),
            channels=read_channels(self),
            typos=typos,
            languages=read_languages(self),
            examples=examples,
            min_similarity=read_min_similarity(self),
            if_tags=if_tags,
            unless_tags=unless_tags,
            first_message=self.boolean("first_message"),
        )
        unknown_groups(self, rule)
        return None if self.failed else rule

    def unknown_keys(self) -> None:
        unknown = [key for key in self.table if key not in KNOWN_KEYS]
        for key in unknown[:SAID_AT_MOST]:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.problem(key, f"unknown key {key!r}{hint}")
        if len(unknown) > SAID_AT_MOST:
            self.problem(None, f"and {len(unknown) - SAID_AT_MOST} more unknown keys")

    def identifier(self) -> str:
        rule_id = self.table.get("id")
        if rule_id is None:
            self.problem(None, "'id' is required")
        elif not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
            foreign = (
                [ch for ch in rule_id if ch.isalpha() and not ch.isascii()]
                if isinstance(rule_id, str)
                else []
            )
            hint = (
                f": {foreign[0]!r} is not a Latin letter ({unicodedata.name(foreign[0], '?')})"
                if foreign
                else ""
            )
            self.problem("id", f"'id' must be 1-64 Latin letters, digits, - or _{hint}")
        return rule_id if isinstance(rule_id, str) else ""

    def triggers(self, has_examples: bool) -> tuple[bool, int, tuple[Phrase, ...], tuple[Any, ...]]:
        """What makes the rule answer: fallback, or its phrases (with typos), patterns and
        examples."""
        fallback = self.boolean("fallback")
        typos = self.typos()
        phrases = self.phrases(typos, self.boolean("exact"))
        patterns = read_patterns(self)
        if fallback and (phrases or patterns or has_examples):
            self.problem(
                "fallback",
                "a fallback rule answers anything; remove its phrases/patterns/examples",
            )
        if not fallback and not (phrases or patterns or has_examples) and not self.failed:
            self.problem(None, "needs 'phrases', 'patterns' or 'examples' (or 'fallback = true')")
        return fallback, typos, phrases, patterns

    def strings(self, key: str, *, single_allowed: bool = False) -> list[str]:
        value = self.table.get(key)
        if value is None:
            return []
        if single_allowed and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            kind = "a string or a list of strings" if single_allowed else "a list of strings"
            self.problem(key, f"{key!r} must be {kind}")
            return []
        return value

    def boolean(self, key: str) -> bool:
        value = self.table.get(key, False)
        if not isinstance(value, bool):
            self.problem(key, f"{key!r} must be true or false")
            return False
        return value

    def integer(self, key: str) -> int:
        value = self.table.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, f"{key!r} must be a whole number")
            return 0
        return value

    def typos(self) -> int:
        value = self.table.get("typos", 0)
        if isinstance(value, bool) or value not in (0, 1, 2):
            self.problem("typos", "'typos' must be 0, 1 or 2")
            return 0
        return value

    def phrases(self, typos: int, exact: bool) -> tuple[Phrase, ...]:
        compiled = []
        for raw in self.strings("phrases"):
            folded = fold(normalise(raw))
            if not folded:
                self.problem("phrases", f"phrase {raw!r} is empty")
                continue
            compiled.append(compile_phrase(folded, typos, exact))
        return tuple(compiled)

    def answers(self) -> tuple[Answer, ...]:
        has_one, has_many = "answer" in self.table, "answers" in self.table
        if has_one == has_many:
            self.problem(None, "needs exactly one of 'answer' or 'answers'")
            return ()
        key = "answer" if has_one else "answers"
        if has_one and not isinstance(self.table["answer"], str):
            self.problem(key, "'answer' must be a string")
            return ()
        texts = [self.table["answer"]] if has_one else self.strings("answers")
        if not texts and not self.failed:
            self.problem(key, "'answers' must not be empty")
        compiled = []
        for text in texts:
            if not text.strip():
                self.problem(key, "an answer must not be empty")
                continue
            try:
                compiled.append(compile_answer(text.strip()))
            except AnswerTemplateError as error:
                self.problem(key, str(error))
        return tuple(compiled)

    def hours(self, key: str) -> tuple[HourRange, ...]:
        value = self.table.get(key)
        if value is None:
            return ()
        if not isinstance(value, str | list) or (
            isinstance(value, list) and not all(isinstance(v, str) for v in value)
        ):
            self.problem(key, f"{key!r} must be a string or a list of strings")
            return ()
        try:
            return parse_hours(value)
        except HoursError as error:
            self.problem(key, f"{key!r}: {error}")
            return ()

    def zone(self) -> ZoneInfo | None:
        value = self.table.get("timezone")
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem("timezone", "'timezone' must be an IANA name, e.g. \"Europe/Moscow\"")
            return None
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(
                "timezone", f"timezone {value!r} is not a known IANA name{zone_hint(value)}"
            )
            return None

    def tags(self) -> tuple[str, ...]:
        tags = self.strings("tag", single_allowed=True)
        for tag in tags:
            if not 1 <= len(tag.strip()) <= 255:
                self.problem("tag", "a tag must have 1 to 255 characters")
        return tuple(tag.strip() for tag in tags)

    def assignee(self) -> str | None:
        value = self.table.get("assign")
        if value is None:
            return None
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not text.isdigit():
            self.problem("assign", "'assign' must be an operator's numeric id")
            return None
        return text


def unknown_groups(reader: RuleReader, rule: Rule) -> None:
    """Every `{{ match.NAME }}` must name a group one of the rule's patterns has: else it
    would always come out empty."""
    named = {name for pattern in rule.patterns for name in pattern.groupindex}
    templates = [*rule.answers, *(t for _, t in rule.props), *(t for _, t in rule.event_params)]
    if rule.note is not None:
        templates.append(rule.note)
    for name in sorted({g for template in templates for g in template.groups} - named):
        having = (
            f"its patterns' groups: {', '.join(sorted(named))}"
            if named
            else "it has no named group; write one as (?P<NAME>...) in a pattern"
        )
        key = "answers" if "answers" in reader.table else "answer"
        reader.problem(
            key,
            f"{{{{ match.{name} }}}}: no pattern of this rule has a group "
            f"named {name!r} ({having})",
        )


def read_patterns(reader: RuleReader) -> tuple[Any, ...]:
    """`patterns`: compiled, each checked to be safe to compile and not to match nothing."""
    compiled = []
    for written in reader.strings("patterns"):
        if "\b" in written or "\f" in written:
            reader.problem(
                "patterns",
                f"pattern {written!r} holds a backspace or form feed: in double quotes "
                "TOML reads \\b as a backspace; write patterns in single quotes, as "
                "'\\bprice'",
            )
            continue
        # Messages are read with ё as е, so a pattern is too, or 'почём' could never match.
        source = read_yo_as_e(written)
        too_big = pattern_too_big(source)
        if too_big:
            reader.problem("patterns", f"pattern {source[:80]!r}: {too_big}")
            continue
        try:
            pattern = regex.compile(source, PATTERN_FLAGS)
        except (RecursionError, MemoryError, OverflowError):
            reader.problem("patterns", f"pattern {source[:80]!r} is too complex to compile")
            continue
        except regex.error as error:
            reader.problem(
                "patterns", f"pattern {source!r} is not a valid regular expression: {error}"
            )
            continue
        if matches_empty_text(pattern):
            reader.problem(
                "patterns",
                f"pattern {source!r} matches the empty string, so it would answer every message",
            )
            continue
        compiled.append(pattern)
    return tuple(compiled)
