"""Text as matching sees it (SPEC §4, "normalised"), and values made safe to put in a reply."""

from __future__ import annotations

import html
import unicodedata

import regex

# Block-level tags separate words ("<p>Hi</p><p>there</p>" reads "Hi there"); inline tags do not
# ("<b>Hel</b>lo" reads "Hello").
_BLOCK_TAG = regex.compile(
    r"</?(?:p|br|div|li|ul|ol|tr|td|th|h[1-6]|blockquote|pre|hr|table)\b[^<>]*>", regex.I
)
_ANY_TAG = regex.compile(r"<!--.*?-->|</?[a-z][^<>]*>", regex.I | regex.S)
_ANGLE_BRACKETS = regex.compile(r"[<>]")
_SPACES = regex.compile(r"\s+")
_YO = str.maketrans({"ё": "е", "Ё": "Е"})


def strip_tags(text: str) -> str:
    """Remove HTML tags and comments, keeping word breaks where block tags stood."""
    return _ANY_TAG.sub("", _BLOCK_TAG.sub(" ", text))


def normalise(text: str) -> str:
    """Tags removed, entities unescaped, NFKC, ё read as е, white space folded and trimmed."""
    text = html.unescape(strip_tags(text))
    text = read_yo_as_e(unicodedata.normalize("NFKC", text))
    return _SPACES.sub(" ", text).strip()


def read_yo_as_e(text: str) -> str:
    """ё and Ё as е and Е, as matching reads them."""
    return text.translate(_YO)


def fold(text: str) -> str:
    """Case-insensitive form of normalised text (full Unicode case folding: ß reads ss)."""
    return text.casefold()


def safe_value(value: object) -> str:
    """A lead-supplied value as plain text: no tags, no angle brackets (O'Brien stays)."""
    return _ANGLE_BRACKETS.sub("", strip_tags(str(value))).strip()
