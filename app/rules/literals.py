"""Literal words a regular expression cannot match without, so that a message can skip the
patterns that have no chance on it.

The analysis is conservative: when in doubt it says "none", and the pattern is tried on every
message. It reads only what is certainly mandatory: runs of word characters outside groups and
classes, in every top-level branch.
"""

from __future__ import annotations

import re

QUANTIFIERS = "?*+{"
MIN_LITERAL = 3
# The verbose flag, wherever it is set: `(?x)`, `(?ix)`, `abc(?x) # comment`, `(?x: ...)`.
_VERBOSE_FLAG = re.compile(r"\(\?[a-zA-Z-]*x")


def required_literals(pattern: str) -> tuple[tuple[str, ...], ...] | None:
    """For each top-level branch, the case-folded literal runs it cannot match without, longest
    first; None when some branch has no run of at least MIN_LITERAL characters, or the pattern
    is too unusual to read. A match needs every run of at least one branch in the text."""
    if _VERBOSE_FLAG.search(pattern):
        return None  # white space and # comments would not be literal
    branches = _top_level_branches(pattern)
    if branches is None:
        return None
    needed = []
    for branch in branches:
        runs = _mandatory_runs(branch)
        if runs is None:
            return None
        runs = sorted({run.casefold() for run in runs if len(run) >= 2}, key=lambda r: (-len(r), r))
        if not runs or len(runs[0]) < MIN_LITERAL:
            return None
        needed.append(tuple(runs))
    return tuple(needed)


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


def _mandatory_runs(branch: str) -> list[str] | None:
    runs: list[str] = []
    current = ""
    index = 0
    while index < len(branch):
        char = branch[index]
        if char == "\\":
            current, index = _end_run(runs, current), index + 2
            if index < len(branch) and branch[index - 1] in "pPNxuUg":
                return None  # \p{..}, \N{..}, \x41, \g<..>: too rich to read here
            continue
        if char in "[(":
            after = _skip_bracketed(branch, index)
            if after is None:
                return None
            current, index = _end_run(runs, current), after
        elif char in QUANTIFIERS:
            quantifier = _quantifier_end(branch, index)
            if quantifier is None:
                return None
            end, may_be_zero = quantifier
            if end == index:  # a literal "{"
                current, index = _end_run(runs, current), index + 1
                continue
            if may_be_zero:
                current = current[:-1]
            current, index = _end_run(runs, current), end
            continue
        elif char.isalnum() or char == "_":
            current += char
            index += 1
            continue
        else:
            current, index = _end_run(runs, current), index + 1
            continue
        # A quantifier after a group or class applies to it, which was skipped anyway.
        if index < len(branch) and branch[index] in QUANTIFIERS:
            quantifier = _quantifier_end(branch, index)
            if quantifier is None:
                return None
            index = max(quantifier[0], index + 1)
    _end_run(runs, current)
    return runs


def _end_run(runs: list[str], current: str) -> str:
    if current:
        runs.append(current)
    return ""


def trigrams(word: str) -> set[str]:
    return {word[i : i + 3] for i in range(len(word) - 2)}
