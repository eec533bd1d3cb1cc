"""Reading the literals a pattern needs: conservative, and never wrong."""

from __future__ import annotations

import pytest
import regex

from app.rules import PATTERN_FLAGS
from app.rules.literals import required_literals
from app.text import fold, normalise


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"how much (is|does)", (("much", "how"),)),
        (r"\bprice\s*list\b", (("price", "list"),)),
        (r"order\s+#?(?P<number>\d+)", (("order",),)),
        (r"colou?r", (("colo",),)),
        (r"abc|defg", (("abc",), ("defg",))),
        (r"STRASSE", (("strasse",),)),
        (r"abc{2}de", (("abc", "de"),)),
        (r"[abc]def", (("def",),)),
        (r"when will (it|my order) (arrive|come)", (("when", "will"),)),
        (r"(x+x+)+y", None),  # nothing outside the group
        (r"a|bcd", None),  # a branch without a literal
        (r"abc{0,2}de", None),  # the optional c leaves "ab" and "de", both too short
        (r"(?:hello){e<=1}", None),  # fuzzy: the literal itself may differ
        (r"hel{e<=1}lo", None),
        (r"(?x) h e l l o", None),  # verbose: white space is not literal
        (r"abc(?x) # just a comment", None),
        (r"(?ix)hello", None),
        (r"\p{L}+abc", None),
        (r"\x41bcd", None),
    ],
)
def test_required_literals(pattern: str, expected: tuple[tuple[str, ...], ...] | None) -> None:
    assert required_literals(pattern) == expected


TEXTS = [
    "How much is it",
    "colour color colr",
    "Price   list please",
    "ORDER #123",
    "Straße",
    "abccde abcde abde",
    "xdef adef",
    "hello helo",
]


@pytest.mark.parametrize(
    "pattern",
    [
        r"how much (is|does)",
        r"colou?r",
        r"\bprice\s*list\b",
        r"order\s+#?\d+",
        r"STRASSE",
        r"abc{1,2}de",
        r"[abc]def",
        r"abc(d)?e|xdef",
    ],
)
def test_a_pattern_never_matches_without_its_literal(pattern: str) -> None:
    compiled = regex.compile(pattern, PATTERN_FLAGS)
    literals = required_literals(pattern)
    assert literals is not None
    for text in TEXTS:
        normalised = normalise(text)
        if compiled.search(normalised):
            folded = fold(normalised)
            assert any(all(run in folded for run in branch) for branch in literals), (pattern, text)
