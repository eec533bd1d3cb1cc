"""How big a pattern compiles: counted repetitions multiplied out and group nesting, checked
before the regex module is asked to compile it."""

from __future__ import annotations

import regex

# A pattern's repetition counts, what it compiles to once they are multiplied out, and group
# nesting: beyond these, compiling it can take gigabytes or overflow the stack
# ("(?:x{0,4294967294}){4294967294}y", "(?:(?:x{1000}){1000}){100}y").
MAX_REPEAT_COUNT = 1000
MAX_REPEAT_SIZE = 20_000
MAX_NESTING = 50
# A counted repetition at the start of `source[i:]`: {m}, {m,}, {m,n}, {,n}.
_COUNT = regex.compile(r"\{(\d*)(?:,(\d*))?\}")
# Escapes followed by a braced name or number, which is no repetition: \p{L}, \N{...}, \x{41}.
_BRACED_ESCAPES = frozenset("pPNxXuUgk")


def pattern_too_big(source: str) -> str | None:
    """Why a pattern is too big to compile safely, or None. Walks it as the regex module reads
    it (escapes, classes, groups) and adds up what it compiles to: each item counts as many
    times as the counted repetitions around it say."""
    # Per open group: the size of its items before the last one, and the last one's.
    frames = [[0, 0]]
    index = 0
    while index < len(source):
        ch, item = source[index], 1
        if ch == "\\":
            step = 2
            braced = source[index + 1 : index + 2] in _BRACED_ESCAPES
            if braced and source[index + 2 : index + 3] == "{":
                closing = source.find("}", index + 2)
                step = (closing - index + 1) if closing != -1 else len(source) - index
            index += step
        elif ch == "[":
            index = _class_end(source, index)
        elif ch == "(":
            frames.append([0, 0])
            if len(frames) - 1 > MAX_NESTING:
                return f"groups nested over {MAX_NESTING} deep"
            index += 1
            continue
        elif ch == ")" and len(frames) > 1:
            item = sum(frames.pop())
            index += 1
        elif ch == "{" and (count := _COUNT.match(source, index)):
            numbers = [n for n in count.groups() if n]
            if any(len(n) > 6 or int(n) > MAX_REPEAT_COUNT for n in numbers):
                biggest = max(numbers, key=lambda n: (len(n), n))
                return (
                    f"a repetition count over {MAX_REPEAT_COUNT} ({biggest}); write + or * instead"
                )
            frames[-1][1] *= max((int(n) for n in numbers), default=1)
            index = count.end()
            continue
        else:
            index += 1
        frames[-1] = [sum(frames[-1]), item]
    if sum(frames[0]) > MAX_REPEAT_SIZE:
        return (
            f"counted repetitions that add up to over {MAX_REPEAT_SIZE} characters; "
            "write + or * instead"
        )
    return None


def _class_end(source: str, start: int) -> int:
    """The index after a character class `[...]` opened at `start` (a `]` first is literal)."""
    index = start + 1
    if source[index : index + 1] == "^":
        index += 1
    if source[index : index + 1] == "]":
        index += 1
    while index < len(source):
        if source[index] == "\\":
            index += 2
            continue
        if source[index] == "[":  # the regex module's nested sets: [[a-z]--[aeiou]]
            index = _class_end(source, index)
            continue
        if source[index] == "]":
            return index + 1
        index += 1
    return index
