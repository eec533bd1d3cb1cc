"""What a regular expression cannot match without, so that a message can skip the patterns
that have no chance on it: literal words (the index files patterns by them), and marks, the
punctuation or digits a pattern with no literal word needs (an e-mail pattern needs an `@`, a
phone pattern a digit; a search costs several microseconds, a look for `@` a fraction of one).

The analysis is conservative: when in doubt it says "none", and the pattern is tried on every
message. It reads only what is certainly mandatory, in every top-level branch: what stands
outside classes and optional parts, including the insides of plain groups of one branch.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

QUANTIFIERS = "?*+{"
MIN_LITERAL = 3
# Groups nested deeper than this are not read into (a pattern may nest a thousand).
MAX_GROUP_DEPTH = 16
# A mark is a character a match needs: ASCII punctuation (no case, so no case-insensitive
# twin), or any decimal digit for `\d`.
MARKS = frozenset(string.punctuation)
METACHARACTERS = frozenset(".^$*+?{}[]|()\\")
DIGIT = "\\d"
_DIGITS = re.compile(r"\d")
_NAMED_GROUP = re.compile(r"\?P?<(?![=!])\w+>")
_SCOPED_FLAGS = re.compile(r"\?(?:>|[a-zA-Z]*(?:-[a-zA-Z]+)?:)")
# The verbose flag, wherever it is set: `(?x)`, `(?ix)`, `abc(?x) # comment`, `(?x: ...)`.
_VERBOSE_FLAG = re.compile(r"\(\?[a-zA-Z-]*x")


def required_literals(pattern: str) -> tuple[tuple[str, ...], ...] | None:
    """For each top-level branch, the case-folded literal runs it cannot match without, longest
    first; None when some branch has no run of at least MIN_LITERAL characters, or the pattern
    is too unusual to read. A match needs every run of at least one branch in the text."""
    branches = _read_branches(pattern)
    if branches is None:
        return None
    needed = []
    for found in branches:
        runs = sorted(
            {run.casefold() for run in found.runs if len(run) >= 2}, key=lambda r: (-len(r), r)
        )
        if not runs or len(runs[0]) < MIN_LITERAL:
            return None
        needed.append(tuple(runs))
    return tuple(needed)


def required_marks(pattern: str) -> tuple[tuple[str, ...], ...] | None:
    """For each top-level branch, the marks it cannot match without: punctuation characters,
    and DIGIT for any decimal digit; None when some branch needs none, or the pattern is too
    unusual to read. A match needs every mark of at least one branch in the text."""
    branches = _read_branches(pattern)
    if branches is None or not all(found.marks for found in branches):
        return None
    return tuple(tuple(sorted(set(found.marks))) for found in branches)


def _read_branches(pattern: str) -> list[_Mandatory] | None:
    """What each top-level branch needs; None when the pattern or a branch is too unusual to
    read."""
    if _VERBOSE_FLAG.search(pattern):
        return None  # white space and # comments would not be literal
    branches = _top_level_branches(pattern)
    if branches is None:
        return None
    found = []
    for branch in branches:
        read = _mandatory(branch)
        if read is None:
            return None
        found.append(read)
    return found


def has_marks(marks: tuple[tuple[str, ...], ...], text: str) -> bool:
    """Whether `text` holds every mark of at least one branch (see `required_marks`)."""
    return any(all(_holds(mark, text) for mark in branch) for branch in marks)


def _holds(mark: str, text: str) -> bool:
    return _DIGITS.search(text) is not None if mark == DIGIT else mark in text


def _skip_class(text: str, start: int) -> int | None:
    """Index after the character class opening at `start` (nested classes allowed)."""
    depth, index = 0, start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            depth += 1
            if text[index + 1 : index + 2] == "]" or text[index + 1 : index + 3] == "^]":
                index += 2 if text[index + 1] == "]" else 3  # a leading ] is literal
                continue
        elif char == "]":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return None


def _skip_group(text: str, start: int) -> int | None:
    """Index after the group opening at `start`."""
    depth, index = 0, start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            after = _skip_class(text, index)
            if after is None:
                return None
            index = after
            continue
        if char == "(":  # nested groups are counted here, not skipped
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return None


def _skip_bracketed(text: str, start: int) -> int | None:
    """Index after the class `[...]` or group `(...)` opening at `start`; None if unclosed."""
    return _skip_class(text, start) if text[start] == "[" else _skip_group(text, start)


def _top_level_branches(pattern: str) -> list[str] | None:
    branches, start, index = [], 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
        elif char in "[(":
            after = _skip_bracketed(pattern, index)
            if after is None:
                return None
            index = after
        elif char == "|":
            branches.append(pattern[start:index])
            start = index = index + 1
        else:
            index += 1
    branches.append(pattern[start:])
    return branches


def _quantifier_end(text: str, index: int) -> tuple[int, bool] | None:
    """(index after a quantifier at `index`, whether it allows zero repetitions); None when the
    brace is fuzzy matching (`{e<=1}`), which can change the literal itself."""
    char = text[index]
    if char in "?*":
        end, may_be_zero = index + 1, True
    elif char == "+":
        end, may_be_zero = index + 1, False
    else:
        close = text.find("}", index)
        if close == -1:
            return index, False  # a lone brace is a literal character in `regex`
        body = text[index + 1 : close]
        if not body.replace(",", "").isdigit() and body.replace(",", "").strip() != "":
            return None
        may_be_zero = body.split(",", 1)[0] in ("", "0")
        end = close + 1
    while end < len(text) and text[end] in "?+":  # lazy or possessive marker
        end += 1
    return end, may_be_zero


@dataclass
class _Mandatory:
    """What a branch cannot match without: runs of word characters, and marks."""

    runs: list[str] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)
    current: str = ""  # the run being read
    last_was_mark: bool = False  # a quantifier that allows zero takes the mark back

    def end_run(self) -> None:
        if self.current:
            self.runs.append(self.current)
        self.current = ""
        self.last_was_mark = False

    def mark(self, mark: str) -> None:
        self.end_run()
        self.marks.append(mark)
        self.last_was_mark = True

    def take_back_last(self) -> None:
        """The atom just read may occur zero times."""
        if self.last_was_mark:
            self.marks.pop()
        self.current = self.current[:-1]
        self.end_run()

    def escape(self, escaped: str) -> bool:
        """Read a backslash and `escaped`; False when that is too rich to read here."""
        if escaped and (escaped in "pPNxuUg" or escaped.isdigit()):
            return False  # \p{..}, \N{..}, \x41, \g<..>, octal \101 and backreferences
        if escaped == "d":
            self.mark(DIGIT)
        elif escaped and escaped in MARKS:
            self.mark(escaped)
        else:
            self.end_run()
        return True

    def add(self, inner: _Mandatory) -> None:
        self.end_run()
        self.runs += inner.runs
        self.marks += inner.marks


def _mandatory(branch: str, depth: int = 0) -> _Mandatory | None:
    """The runs and marks of one branch, outside classes and optional parts; the insides of
    plain groups of one branch count too. None when the branch is too unusual to read."""
    found = _Mandatory()
    index = 0
    while index < len(branch):
        char = branch[index]
        if char == "\\":
            if not found.escape(branch[index + 1 : index + 2]):
                return None
            index += 2
            continue
        if char in QUANTIFIERS:
            quantifier = _quantifier_end(branch, index)
            if quantifier is None:
                return None
            end, may_be_zero = quantifier
            if may_be_zero and end != index:  # (end == index: a literal "{")
                found.take_back_last()
            found.end_run()
            index = max(end, index + 1)
            continue
        if char.isalnum() or char == "_":
            found.current += char
            found.last_was_mark = False
            index += 1
            continue
        if char not in "[(":
            if char in MARKS and char not in METACHARACTERS:
                found.mark(char)
            else:
                found.end_run()
            index += 1
            continue
        after = _bracketed(branch, index, found, depth)
        if after is None:
            return None
        index = after
    found.end_run()
    return found


def _bracketed(branch: str, index: int, found: _Mandatory, depth: int) -> int | None:
    """Read the class or group opening at `index` (and its quantifier) into `found`; the
    index after them, or None when they are too unusual to read."""
    after = _skip_bracketed(branch, index)
    if after is None:
        return None
    found.end_run()
    # A quantifier after a group or class applies to all of it.
    may_be_zero, next_index = False, after
    if after < len(branch) and branch[after] in QUANTIFIERS:
        quantifier = _quantifier_end(branch, after)
        if quantifier is None:
            return None
        if quantifier[0] != after:  # else a literal "{", read next
            may_be_zero, next_index = quantifier[1], max(quantifier[0], after + 1)
    body = _plain_group_body(branch[index:after]) if branch[index] == "(" else None
    if body is None or may_be_zero or depth >= MAX_GROUP_DEPTH:
        return next_index
    if _top_level_branches(body) == [body]:
        inner = _mandatory(body, depth + 1)
        if inner is not None:  # else what it needs stays unknown: fine, just less known
            found.add(inner)
    return next_index


def _plain_group_body(group: str) -> str | None:
    """The inside of a group that must match as it stands: `(...)`, `(?:...)`, `(?P<n>...)`,
    `(?<n>...)`, `(?>...)`, `(?i:...)`; None for lookarounds, conditionals and the rest."""
    body = group[1:-1]
    if not body.startswith("?"):
        return body
    named = _NAMED_GROUP.match(body)
    if named:
        return body[named.end() :]
    flags = _SCOPED_FLAGS.match(body)
    if flags:
        return body[flags.end() :]
    return None


def trigrams(word: str) -> set[str]:
    return {word[i : i + 3] for i in range(len(word) - 2)}
