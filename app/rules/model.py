"""The compiled rule: what one `[[rule]]` table becomes, and what a match reports."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import regex

from app.rules.hours import HourRange, is_within
from app.rules.templates import Answer
from app.text import script_language, stem

WORD = regex.compile(r"\w+")
PATTERN_FLAGS = regex.V1 | regex.IGNORECASE
# A pattern search that takes longer than this is abandoned: that rule is skipped for the message.
PATTERN_TIMEOUT_SECONDS = 0.1
TYPO_MIN_LETTERS = 5
# Shorter words match only as written: a stem of two letters would join unrelated words.
FORM_MIN_LETTERS = 3


# An answer that begins so marks a draft (as /admin and `flask insights` write them): the rule
# loads, `rules check` warns, and it answers no lead until its answer is written; replaying a
# draft shows what it would answer.
DRAFT_MARK = "[draft]"
DRAFT_ANSWER = f"{DRAFT_MARK} Write the answer here, then remove this mark."


class RulesError(ValueError):
    """Rule files that cannot be used; `str()` has one `file:line: message` line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Source:
    """Where a rule was written."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Phrase:
    """A literal phrase, as words in folded form; `pattern` set when it needs a regex."""

    text: str
    words: tuple[str, ...]
    pattern: Any = field(default=None, compare=False, repr=False)
    typos: int = 0
    bigrams: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    # The words' stems, when the phrase also matches other forms of its words (not `exact`).
    stems: tuple[str, ...] | None = None

    def word_matches(self, position: int, word: str, word_stem: str) -> bool:
        """Whether a message's word (and its stem) stands for the phrase's word at `position`:
        as written, or (forms) with the same stem, or with the phrase's word as its stem
        ("разбит" for "разбитый", where the stemmer cuts "разбит" itself to "разб")."""
        own = self.words[position]
        if word == own:
            return True
        if self.stems is None or len(own) < FORM_MIN_LETTERS:
            return False
        return word_stem == self.stems[position] or word_stem == own

    def may_occur_in(self, folded: str, text_bigrams: set[str]) -> bool:
        """A cheap test that never says no to a text the regex would match. Within k typos a
        text keeps at least |B| - 2k of the phrase's distinct bigrams B (each typo breaks at
        most two); an exact phrase must occur as it is (the text's spaces are single)."""
        if not self.typos:
            return self.text in folded
        return len(self.bigrams & text_bigrams) >= len(self.bigrams) - 2 * self.typos


@dataclass(frozen=True)
class Rule:
    """One `[[rule]]` table, validated and compiled."""

    id: str
    source: Source
    order: int
    phrases: tuple[Phrase, ...] = ()
    patterns: tuple[Any, ...] = field(default=(), compare=False, repr=False)
    # per pattern: for each branch, the literals it cannot match without; None when unknown
    pattern_literals: tuple[tuple[tuple[str, ...], ...] | None, ...] = field(
        default=(), compare=False, repr=False
    )
    # per pattern: for each branch, the marks (punctuation, digits) it needs; None when unknown
    pattern_marks: tuple[tuple[tuple[str, ...], ...] | None, ...] = field(
        default=(), compare=False, repr=False
    )
    answers: tuple[Answer, ...] = ()
    priority: int = 0
    fallback: bool = False
    repeat: bool = False
    hours: tuple[HourRange, ...] = ()
    outside_hours: tuple[HourRange, ...] = ()
    timezone: ZoneInfo | None = None
    tags: tuple[str, ...] = ()
    assign: str | None = None
    # A note for the operators (may insert the lead's message), and whether to close.
    note: Answer | None = None
    close: bool = False
    # Lead properties and an event: (name, template) pairs, rendered at delivery.
    props: tuple[tuple[str, Answer], ...] = ()
    event: str | None = None
    event_params: tuple[tuple[str, Answer], ...] = ()
    # The `sent_via` values it answers on; empty: every channel.
    channels: frozenset[str] = frozenset()
    typos: int = 0
    # The languages ("ru", "en") of the messages it answers; empty: every language.
    languages: frozenset[str] = frozenset()
    # Example questions (as written) and how near a message must come to them (None: the
    # set's threshold).
    examples: tuple[str, ...] = ()
    min_similarity: float | None = None
    # What it asks of the conversation: one of these tags, none of those, its first message.
    if_tags: frozenset[str] = frozenset()
    unless_tags: frozenset[str] = frozenset()
    first_message: bool = False

    @property
    def draft(self) -> bool:
        """Whether an answer still carries the draft mark: the rule answers no lead yet."""
        return any(answer.source.startswith(DRAFT_MARK) for answer in self.answers)

    @functools.cached_property
    def voice(self) -> frozenset[str]:
        """The languages the rule speaks, for preferring the lead's (docs/contract.md, rule
        order): its `language`, else the language of its answers' letters; empty: every
        language."""
        if self.languages:
            return self.languages
        told = {script_language(answer.source) for answer in self.answers}
        return frozenset(told) if len(told) == 1 and None not in told else frozenset()

    def prefers(self, language: str | None) -> bool:
        """Whether the rule is in the lead's `language` (a rule of every language is)."""
        return language is None or not self.voice or language in self.voice

    def speaks(self, language: str | None) -> bool:
        """Whether the rule answers a message in `language` (None: told by no letters)."""
        return not self.languages or language is None or language in self.languages

    def fits_tags(self, tags: frozenset[str]) -> bool:
        """Whether the conversation's tags let the rule answer (`if_tags`, `unless_tags`)."""
        if self.if_tags and self.if_tags.isdisjoint(tags):
            return False
        return self.unless_tags.isdisjoint(tags)

    def fits_first_message(self, earlier_lead_message: bool) -> bool:
        """Whether `first_message` lets the rule answer, given whether a lead message of the
        conversation was recorded before this one."""
        return not (self.first_message and earlier_lead_message)

    def answers_on(self, channel: str) -> bool:
        """Whether the rule answers a message sent through `channel` (its part's `sent_via`)."""
        return not self.channels or channel in self.channels

    def is_active(self, at: datetime, default_zone: ZoneInfo) -> bool:
        """Whether the rule may answer at this moment (its hours, in its time zone)."""
        if not self.hours and not self.outside_hours:
            return True
        local = at.astimezone(self.timezone or default_zone)
        if self.hours:
            return is_within(self.hours, local)
        return not is_within(self.outside_hours, local)


@dataclass(frozen=True)
class RuleMatch:
    """A rule that matched a message, and what in the message made it match."""

    rule: Rule
    matched: str
    span: tuple[int, int] = (0, 0)
    groups: dict[str, str] = field(default_factory=dict)
    # phrase, word form, typo, pattern, example or fallback
    how: str = "phrase"


def bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def compile_phrase(folded: str, typos: int, exact: bool = False) -> Phrase:
    """Plain word sequences go to the word index (with their words' other forms unless
    `exact`); anything else, and a phrase with typos, is matched by a regex too."""
    words = tuple(folded.split(" "))
    letters = sum(ch.isalpha() for ch in folded) if typos else 0
    plain = all(WORD.fullmatch(word) for word in words)
    stems = tuple(stem(word) for word in words) if plain and not exact else None
    if plain and (typos == 0 or letters < TYPO_MIN_LETTERS):
        return Phrase(text=folded, words=words, stems=stems)
    body = r"\s+".join(regex.escape(word) for word in words)
    fuzzy = typos if typos and letters >= TYPO_MIN_LETTERS else 0
    if fuzzy:
        body = f"(?:{body}){{e<={fuzzy}}}"
    # Whole words: no word character may touch the phrase on either side.
    before = r"(?<!\w)" if WORD.match(folded[0]) else ""
    after = r"(?!\w)" if WORD.match(folded[-1]) else ""
    return Phrase(
        text=folded,
        words=words,
        pattern=regex.compile(before + body + after, regex.V1),
        typos=fuzzy,
        bigrams=frozenset(bigrams(folded)),
        stems=stems,
    )


def matches_empty_text(pattern: Any) -> bool:
    """A pattern that matches zero characters somewhere in ordinary text matches anything."""
    for probe in ("", "a", "hello world 1"):
        try:
            found = pattern.search(probe, timeout=PATTERN_TIMEOUT_SECONDS)
        except TimeoutError:
            return False
        if found is not None and found.end() == found.start():
            return True
    return False
