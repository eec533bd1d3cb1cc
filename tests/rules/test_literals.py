"""Reading the literals a pattern needs: conservative, and never wrong."""

from __future__ import annotations

import pytest
import regex

from app.rules import PATTERN_FLAGS
from app.rules.literals import DIGIT, has_marks, required_literals, required_marks
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
        (r"\101bcd", None),  # octal: the digits after the backslash are no literal
        (r"(x)\1234abc", None),  # nor after a backreference
        (r"(?:price list)", (("price", "list"),)),  # a plain group of one branch counts
        (r"(?P<what>refund)s?", (("refund",),)),
        (r"(?:price list)?", None),  # an optional group does not
        (r"(?=price)\w+", None),  # nor a lookahead
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
    "12-hello",
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
        r"(?P<id>\d+)-(?:hello)",
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


CONTACT_PATTERNS = [
    r"(?<![\w.+-])(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,})(?![\w-])",
    r"(?<![\w+])(?P<phone>(?:\+\d{1,3}|8)[ (-]*\d{3}[ )-]*\d{3}[ -]*\d{2}[ -]*\d{2})(?!\d)",
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (CONTACT_PATTERNS[0], ((".", "@"),)),
        (CONTACT_PATTERNS[1], ((DIGIT,),)),
        (r"order\s+#?(?P<number>\d+)", ((DIGIT,),)),  # "#?" is optional, the digits are not
        (r"a@b|c\.d", (("@",), (".",))),
        (r"(?i:@)", (("@",),)),
        (r"a@?b", None),  # optional
        (r"\d?x", None),
        (r"\d{0,3}x", None),
        (r"(?:a@b)?", None),
        (r"(?=@)x", None),  # a lookaround is not descended into
        (r"a@|b", None),  # a branch with no mark
        (r"x.y", None),  # "." is any character, not a mark
        (r"\p{IsCyrillic}", None),
        (r"(?:a@b){e<=1}", None),  # fuzzy: the mark itself may be missing
        (r"(?x) a @ b", None),
        (r"how much", None),  # a space is no mark
        (r"«ok»", None),  # nor non-ASCII punctuation
    ],
)
def test_required_marks(pattern: str, expected: tuple[tuple[str, ...], ...] | None) -> None:
    assert required_marks(pattern) == expected


MARK_TEXTS = [
    "write to me at anna@example.com",
    "anna at example dot com",
    "my number is +7 (916) 123-45-67",
    "my number is +7 (916) 123-45",
    "call 8 916 123 45 67 please",
    "order #١٢٣ please",  # Arabic-Indic digits are digits too
    "order # please",
    "a@b c.d",
]


@pytest.mark.parametrize("pattern", [*CONTACT_PATTERNS, r"order\s+#?(?P<number>\d+)", r"a@b|c\.d"])
def test_a_pattern_never_matches_without_its_marks(pattern: str) -> None:
    compiled = regex.compile(pattern, PATTERN_FLAGS)
    marks = required_marks(pattern)
    assert marks is not None
    matched = 0
    for text in MARK_TEXTS:
        normalised = normalise(text)
        if compiled.search(normalised):
            matched += 1
            assert has_marks(marks, normalised), (pattern, text)
    assert matched  # the texts exercise the pattern
