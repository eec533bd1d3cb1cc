"""The rule language: TOML files with file:line errors, compiled once, matched by a word index."""

from __future__ import annotations

import difflib
import logging
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import regex

from app import hours as hours_module
from app.literals import required_literals, trigrams
from app.templates import Answer, AnswerTemplateError, compile_answer
from app.text import fold, normalise, read_yo_as_e

log = logging.getLogger(__name__)

KNOWN_KEYS = (
    "id",
    "phrases",
    "patterns",
    "answer",
    "answers",
    "priority",
    "fallback",
    "repeat",
    "hours",
    "outside_hours",
    "timezone",
    "tag",
    "assign",
    "typos",
)
RULE_ID = regex.compile(r"^[A-Za-z0-9_-]{1,64}$")
WORD = regex.compile(r"\w+")
PATTERN_FLAGS = regex.V1 | regex.IGNORECASE
# A pattern search that takes longer than this is abandoned: that rule is skipped for the message.
PATTERN_TIMEOUT_SECONDS = 0.1
TYPO_MIN_LETTERS = 5
_RULE_HEADER = regex.compile(r"^[ \t]*\[\[[ \t]*rule[ \t]*\]\]", regex.M)
_TOML_POSITION = regex.compile(r"\(at (?:line (\d+), column \d+|end of document)\)")


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
    answers: tuple[Answer, ...] = ()
    priority: int = 0
    fallback: bool = False
    repeat: bool = False
    hours: tuple[hours_module.HourRange, ...] = ()
    outside_hours: tuple[hours_module.HourRange, ...] = ()
    timezone: ZoneInfo | None = None
    tags: tuple[str, ...] = ()
    assign: str | None = None
    typos: int = 0

    def is_active(self, at: datetime, default_zone: ZoneInfo) -> bool:
        """Whether the rule may answer at this moment (its hours, in its time zone)."""
        if not self.hours and not self.outside_hours:
            return True
        local = at.astimezone(self.timezone or default_zone)
        if self.hours:
            return hours_module.is_within(self.hours, local)
        return not hours_module.is_within(self.outside_hours, local)


@dataclass(frozen=True)
class RuleMatch:
    """A rule that matched a message, and what in the message made it match."""

    rule: Rule
    matched: str
    span: tuple[int, int] = (0, 0)
    groups: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleSet:
    """Rules in answer order, with a word index over their phrases."""

    rules: tuple[Rule, ...]
    files: tuple[str, ...]
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    # first word of a phrase -> (rule order, phrase) for every phrase that starts with it
    index: dict[str, tuple[tuple[int, Phrase], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # a trigram of a literal some pattern needs -> orders of the rules with such a pattern
    pattern_index: dict[str, tuple[int, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # orders of rules whose regexes must be tried on every message (no literal to index)
    always_scanned: frozenset[int] = field(default=frozenset(), compare=False, repr=False)
    fallbacks: tuple[Rule, ...] = field(default=(), compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.rules)

    def match(self, text: str, at: datetime | None = None) -> RuleMatch | None:
        """The first matching non-fallback rule active at `at`, in rule order (SPEC §5.4)."""
        return next(self.iter_matches(text, at), None)

    def iter_matches(self, text: str, at: datetime | None = None) -> Iterator[RuleMatch]:
        """Every matching non-fallback rule active at `at`, lazily, in rule order."""
        return self.iter_matches_normalised(normalise(text), at)

    def iter_matches_normalised(
        self, normalised: str, at: datetime | None = None
    ) -> Iterator[RuleMatch]:
        """`iter_matches` for text already normalised (by `app.text.normalise`)."""
        at = at or datetime.now(UTC)
        folded = fold(normalised)
        tokens = [(m.group(), m.start(), m.end()) for m in WORD.finditer(folded)]
        phrase_hits = self._phrase_hits(tokens, folded)
        to_scan = self._scan_candidates(tokens)
        text_bigrams = bigrams(folded) if to_scan else set()
        for order in sorted(phrase_hits.keys() | to_scan):
            rule = self.rules[order]
            found = phrase_hits.get(order) or _scan(rule, normalised, folded, text_bigrams)
            if found is not None and rule.is_active(at, self.timezone):
                yield found

    def active_fallbacks(self, at: datetime | None = None) -> Iterator[Rule]:
        """Fallback rules active at `at`, in rule order."""
        at = at or datetime.now(UTC)
        return (rule for rule in self.fallbacks if rule.is_active(at, self.timezone))

    def _phrase_hits(self, tokens: list[tuple[str, int, int]], folded: str) -> dict[int, RuleMatch]:
        """Rules with a word-indexed phrase in the text: only the phrases starting with one of
        the text's words are compared, so the cost follows the message, not the rule count."""
        hits: dict[int, RuleMatch] = {}
        for position, (word, start, _) in enumerate(tokens):
            for order, phrase in self.index.get(word, ()):
                if order in hits:
                    continue
                end = _words_follow(phrase.words, tokens, position, folded)
                if end is not None:
                    rule = self.rules[order]
                    hits[order] = RuleMatch(rule, f"phrase {phrase.text!r}", (start, end))
        return hits

    def _scan_candidates(self, tokens: list[tuple[str, int, int]]) -> set[int]:
        """Rules whose regexes may match: those with a needed literal's trigram in one of the
        text's words, and those that must always be tried."""
        candidates = set(self.always_scanned)
        index = self.pattern_index
        if index:
            grams = {word[i : i + 3] for word, _, _ in tokens for i in range(len(word) - 2)}
            for gram in grams.intersection(index):
                candidates.update(index[gram])
        return candidates


def _words_follow(
    words: tuple[str, ...], tokens: list[tuple[str, int, int]], position: int, folded: str
) -> int | None:
    """End offset when `words` stand at `position`, separated by white space only."""
    if position + len(words) > len(tokens):
        return None
    for offset in range(1, len(words)):
        word, start, _ = tokens[position + offset]
        previous_end = tokens[position + offset - 1][2]
        if word != words[offset] or not folded[previous_end:start].isspace():
            return None
    return tokens[position + len(words) - 1][2]


def bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _scan(rule: Rule, normalised: str, folded: str, text_bigrams: set[str]) -> RuleMatch | None:
    """Try a rule's regex phrases and patterns, each under a time limit, skipping those that
    a cheap test rules out (a search with a time limit costs several microseconds)."""
    for phrase in rule.phrases:
        if phrase.pattern is not None and phrase.may_occur_in(folded, text_bigrams):
            found = _search(rule, phrase.pattern, folded)
            if found:
                return RuleMatch(rule, f"phrase {phrase.text!r}", found.span())
    for pattern, literals in zip(rule.patterns, rule.pattern_literals, strict=True):
        if literals is not None and not any(
            all(literal in folded for literal in branch) for branch in literals
        ):
            continue  # every branch lacks a literal it needs: no search can succeed
        found = _search(rule, pattern, normalised)
        if found:
            groups = {k: v for k, v in found.groupdict().items() if v is not None}
            return RuleMatch(rule, f"pattern {pattern.pattern!r}", found.span(), groups)
    return None


def _search(rule: Rule, pattern: Any, text: str) -> Any:
    try:
        return pattern.search(text, timeout=PATTERN_TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning(
            "at=warning event=pattern_timeout rule=%s pattern=%r chars=%d",
            rule.id,
            pattern.pattern,
            len(text),
        )
        return None


# ---------------------------------------------------------------------------------------------
# Loading


def load_rules(directory: str | Path, default_timezone: ZoneInfo | None = None) -> RuleSet:
    """Read every `*.toml` in `directory` in name order; raise RulesError listing all problems."""
    folder = Path(directory)
    if not folder.is_dir():
        raise RulesError([f"{folder}: rules folder not found"])
    paths = sorted(folder.glob("*.toml"))
    if not paths:
        raise RulesError([f"{folder}: no *.toml rule files"])
    problems: list[str] = []
    rules: list[Rule] = []
    first_seen: dict[str, Source] = {}
    for path in paths:
        for rule in _load_file(path, problems):
            if rule.id in first_seen:
                problems.append(
                    f"{rule.source}: rule {rule.id!r}: duplicate id, first defined at "
                    f"{first_seen[rule.id]}"
                )
                continue
            first_seen[rule.id] = rule.source
            rules.append(rule)
    if problems:
        raise RulesError(problems)
    return build_rule_set(rules, [str(p) for p in paths], default_timezone or ZoneInfo("UTC"))


def build_rule_set(rules: list[Rule], files: list[str], default_timezone: ZoneInfo) -> RuleSet:
    """Order rules (priority, then file order) and build the word and pattern indexes."""
    ordered = sorted(rules, key=lambda r: -r.priority)  # sorted() is stable: file order stays
    ordered = [replace(rule, order=order) for order, rule in enumerate(ordered)]
    index: dict[str, list[tuple[int, Phrase]]] = {}
    needs: dict[int, list[str]] = {}
    always: set[int] = set()
    for rule in ordered:
        if rule.fallback:
            continue
        for phrase in rule.phrases:
            if phrase.pattern is None:
                index.setdefault(phrase.words[0], []).append((rule.order, phrase))
            else:
                always.add(rule.order)
        for found in rule.pattern_literals:
            if found is None:
                always.add(rule.order)
            else:  # indexed by each branch's longest literal
                needs.setdefault(rule.order, []).extend(branch[0] for branch in found)
    return RuleSet(
        rules=tuple(ordered),
        files=tuple(files),
        timezone=default_timezone,
        index={word: tuple(entries) for word, entries in index.items()},
        pattern_index=_pattern_index(needs, always),
        always_scanned=frozenset(always),
        fallbacks=tuple(r for r in ordered if r.fallback),
    )


def _pattern_index(needs: dict[int, list[str]], always: set[int]) -> dict[str, tuple[int, ...]]:
    """Each literal is filed under its rarest trigram, so few rules share a key."""
    counts: dict[str, int] = {}
    for literals in needs.values():
        for literal in literals:
            for gram in trigrams(literal):
                counts[gram] = counts.get(gram, 0) + 1
    index: dict[str, set[int]] = {}
    for order, literals in needs.items():
        if order in always:
            continue
        for literal in literals:
            rarest = min(sorted(trigrams(literal)), key=counts.__getitem__)
            index.setdefault(rarest, set()).add(order)
    return {gram: tuple(sorted(orders)) for gram, orders in index.items()}


def _load_file(path: Path, problems: list[str]) -> list[Rule]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"{path}:1: cannot read the file: {error}")
        return []
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _TOML_POSITION.search(message)
        last_line = str(len(text.splitlines()) or 1)
        line = (position.group(1) or last_line) if position else "1"
        problems.append(f"{path}:{line}: TOML syntax: {_TOML_POSITION.sub('', message).strip()}")
        return []
    for key in document:
        if key != "rule":
            problems.append(
                f"{path}:{_key_line(text, key, 0)}: unknown top-level key {key!r}; "
                "write rules as [[rule]] tables"
            )
    tables = document.get("rule", [])
    if not isinstance(tables, list):
        problems.append(f"{path}:1: 'rule' must be written as [[rule]] tables")
        return []
    headers = _header_lines(text)
    rules = []
    for number, table in enumerate(tables):
        line = headers[number] if number < len(headers) else 1
        next_line = headers[number + 1] if number + 1 < len(headers) else None
        reader = _RuleReader(path, text, line, next_line, table, problems)
        rule = reader.read()
        if rule is not None:
            rules.append(rule)
    return rules


def _header_lines(text: str) -> list[int]:
    """The line of each `[[rule]]` header, counting newlines once through the file."""
    lines, line, last = [], 1, 0
    for header in _RULE_HEADER.finditer(text):
        line += text.count("\n", last, header.start())
        last = header.start()
        lines.append(line)
    return lines


def _key_line(text: str, key: str, start_line: int, end_line: int | None = None) -> int:
    """Line of `key = ...` within a table (1-based); the table's line when not found."""
    lines = text.splitlines()
    stop = end_line - 1 if end_line else len(lines)
    finder = regex.compile(rf"^\s*[\"']?{regex.escape(key)}[\"']?\s*=")
    for number in range(max(start_line - 1, 0), stop):
        if finder.match(lines[number]):
            return number + 1
    return max(start_line, 1)


class _RuleReader:
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
        line = _key_line(self.text, key, self.line, self.next_line) if key else self.line
        who = f"rule {self.rule_id!r}" if isinstance(self.rule_id, str) else "rule without id"
        self.problems.append(f"{self.path}:{line}: {who}: {message}")
        self.failed = True

    def read(self) -> Rule | None:
        table = self.table
        if not isinstance(table, dict):
            self.problem(None, "must be a table")
            return None
        for key in table:
            if key not in KNOWN_KEYS:
                close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.problem(key, f"unknown key {key!r}{hint}")
        rule_id = table.get("id")
        if rule_id is None:
            self.problem(None, "'id' is required")
        elif not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
            self.problem("id", "'id' must be 1-64 letters, digits, - or _")
        fallback = self.boolean("fallback")
        typos = self.typos()
        phrases = self.phrases(typos)
        patterns = self.patterns()
        if fallback and (phrases or patterns):
            self.problem(
                "fallback", "a fallback rule answers anything; remove its phrases/patterns"
            )
        if not fallback and not phrases and not patterns and not self.failed:
            self.problem(None, "needs 'phrases' or 'patterns' (or 'fallback = true')")
        answers = self.answers()
        hours = self.hours("hours")
        outside = self.hours("outside_hours")
        if hours and outside:
            self.problem("outside_hours", "'hours' and 'outside_hours' exclude each other")
        rule = Rule(
            id=rule_id if isinstance(rule_id, str) else "",
            source=Source(str(self.path), self.line),
            order=0,
            phrases=phrases,
            patterns=patterns,
            pattern_literals=tuple(required_literals(p.pattern) for p in patterns),
            answers=answers,
            priority=self.integer("priority"),
            fallback=fallback,
            repeat=self.boolean("repeat"),
            hours=hours,
            outside_hours=outside,
            timezone=self.zone(),
            tags=self.tags(),
            assign=self.assignee(),
            typos=typos,
        )
        return None if self.failed else rule

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

    def phrases(self, typos: int) -> tuple[Phrase, ...]:
        compiled = []
        for raw in self.strings("phrases"):
            folded = fold(normalise(raw))
            if not folded:
                self.problem("phrases", f"phrase {raw!r} is empty")
                continue
            compiled.append(compile_phrase(folded, typos))
        return tuple(compiled)

    def patterns(self) -> tuple[Any, ...]:
        compiled = []
        for written in self.strings("patterns"):
            # Messages are read with ё as е, so a pattern is too, or 'почём' could never match.
            source = read_yo_as_e(written)
            try:
                pattern = regex.compile(source, PATTERN_FLAGS)
            except regex.error as error:
                self.problem(
                    "patterns", f"pattern {source!r} is not a valid regular expression: {error}"
                )
                continue
            if matches_empty_text(pattern):
                self.problem(
                    "patterns",
                    f"pattern {source!r} matches the empty string, so it "
                    "would answer every message",
                )
                continue
            compiled.append(pattern)
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

    def hours(self, key: str) -> tuple[hours_module.HourRange, ...]:
        value = self.table.get(key)
        if value is None:
            return ()
        if not isinstance(value, str | list) or (
            isinstance(value, list) and not all(isinstance(v, str) for v in value)
        ):
            self.problem(key, f"{key!r} must be a string or a list of strings")
            return ()
        try:
            return hours_module.parse_hours(value)
        except hours_module.HoursError as error:
            self.problem(key, f"{key!r}: {error}")
            return ()

    def zone(self) -> ZoneInfo | None:
        value = self.table.get("timezone")
        if value is None:
            return None
        try:
            if not isinstance(value, str):
                raise ValueError
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(
                "timezone", f"timezone {value!r} is not a known IANA name (e.g. Europe/Berlin)"
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


def compile_phrase(folded: str, typos: int) -> Phrase:
    """Plain word sequences go to the word index; anything else is matched by a regex."""
    words = tuple(folded.split(" "))
    letters = sum(ch.isalpha() for ch in folded) if typos else 0
    plain = all(WORD.fullmatch(word) for word in words)
    if plain and (typos == 0 or letters < TYPO_MIN_LETTERS):
        return Phrase(text=folded, words=words)
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
