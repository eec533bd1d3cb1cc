"""Text as matching sees it (docs/rules.md, "normalised"), and values made safe to put in a
reply."""

from __future__ import annotations

import difflib
import html
import re
import unicodedata
from functools import lru_cache
from zoneinfo import available_timezones

import regex
import snowballstemmer

# Block-level tags separate words ("<p>Hi</p><p>there</p>" reads "Hi there"); inline tags do not
# ("<b>Hel</b>lo" reads "Hello").
_BLOCK_TAG = regex.compile(
    r"</?(?:p|br|div|li|ul|ol|tr|td|th|h[1-6]|blockquote|pre|hr|table)\b[^<>]*>", regex.I
)
_ANY_TAG = regex.compile(r"</?[a-z][^<>]*>", regex.I)
_ANGLE_BRACKETS = regex.compile(r"[<>]")
_SPACES = regex.compile(r"\s+")
_CYRILLIC = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")
_CYRILLIC_LETTER = regex.compile(r"[а-яёА-ЯЁ]")
_LATIN_LETTER = regex.compile(r"[a-zA-Z]")
# PyStemmer's C stemmers when installed (a declared dependency), else snowballstemmer's own.
_STEMMERS = {"ru": snowballstemmer.stemmer("russian"), "en": snowballstemmer.stemmer("english")}


# Surrogates (not text), NUL and the other C0/C1 control characters but tab and newline: what a
# database cannot store, a terminal would obey, or a log line would be split by.
_UNPRINTABLE = re.compile(
    # Control codes, surrogates, and the bidirectional controls that can make text shown in
    # a terminal or a page read otherwise than it is ("Trojan Source": U+202E and the rest).
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
# Matching and insight see at most this much of a message: its start says what it is about, and
# every step after it then costs a bounded time, whatever the message holds.
MAX_TEXT_CHARS = 4000


def clean(text: str) -> str:
    """Text as it may enter the service: without surrogates and control characters."""
    return _UNPRINTABLE.sub("", text)


def strip_tags(text: str) -> str:
    """Remove HTML tags and comments, keeping word breaks where block tags stood. Linear in
    the text's length, whatever it holds (a regex for comments was quadratic on `<!--` runs)."""
    if "<" not in text:
        return text
    return _ANY_TAG.sub("", _BLOCK_TAG.sub(" ", _without_comments(text)))


def _without_comments(text: str) -> str:
    kept, start = [], 0
    while (opening := text.find("<!--", start)) >= 0:
        closing = text.find("-->", opening + 4)
        if closing < 0:
            break  # an unclosed comment is left as text, as a browser shows it
        kept.append(text[start:opening])
        start = closing + 3
    kept.append(text[start:])
    return "".join(kept)


def normalise(text: str) -> str:
    """Tags removed, entities unescaped, NFKC, ё read as е, white space folded and trimmed; at
    most MAX_TEXT_CHARS of it."""
    # Markup and entities at most double what a reader sees, NFKC rarely more: this much raw
    # text is enough for MAX_TEXT_CHARS of normalised text.
    # Cleaned again after the entities are decoded: "&#x202E;" must not bring back what
    # `clean` took out.
    text = clean(html.unescape(strip_tags(text[: MAX_TEXT_CHARS * 4])))
    text = read_yo_as_e(unicodedata.normalize("NFKC", text))
    return _SPACES.sub(" ", text).strip()[:MAX_TEXT_CHARS]


def as_written(text: str) -> str:
    """A message as a person reads it (quoted in a note): tags removed, entities unescaped,
    white space folded; letters as the lead typed them (ё stays ё). Decoded entities are
    cleaned like the rest (no control or bidirectional characters)."""
    text = clean(html.unescape(strip_tags(text[: MAX_TEXT_CHARS * 4])))
    return _SPACES.sub(" ", text).strip()[:MAX_TEXT_CHARS]


def read_yo_as_e(text: str) -> str:
    """ё and Ё as е and Е, as matching reads them."""
    # Two replaces: str.translate with a table costs ~250x more on Cyrillic text.
    return text.replace("ё", "е").replace("Ё", "Е")


def fold(text: str) -> str:
    """Case-insensitive form of normalised text (full Unicode case folding: ß reads ss)."""
    return text.casefold()


def echo_key(text: str) -> str:
    """A reply's text as its echo is compared with what we sent: normalised, case-folded and
    without white space (Dashly may wrap lines in <p> or <br> where we sent a newline)."""
    return _SPACES.sub("", fold(normalise(text)))


def script_language(text: str) -> str | None:
    """ "ru" or "en" when one alphabet's letters make up at least 80 % of the text's letters
    (a Russian answer may name a site or an e-mail), None when neither does or it has none."""
    cyrillic, latin = len(_CYRILLIC_LETTER.findall(text)), len(_LATIN_LETTER.findall(text))
    if cyrillic >= 4 * latin and cyrillic:
        return "ru"
    if latin >= 4 * cyrillic and latin:
        return "en"
    return None


def language_of(text: str) -> str | None:
    """ "ru" or "en" by the message's letters (Cyrillic or Latin, whichever are more), None
    when it has neither (a phone number, an emoji): then a rule's `language` does not rule it
    out."""
    cyrillic, latin = len(_CYRILLIC_LETTER.findall(text)), len(_LATIN_LETTER.findall(text))
    if cyrillic == latin == 0:
        return None
    return "ru" if cyrillic > latin else "en"


def stem(word: str) -> str:
    """A folded word's Snowball stem, Russian or English by its first letter ("человека" and
    "человек" give "человек"; "orders" and "ordered" give "order"). Cached: chats repeat their
    words; a run of letters longer than any word is stemmed each time, not kept (a lead
    could otherwise fill the cache with 4,000-letter "words")."""
    if len(word) > LONGEST_WORD:
        return _stem_now(word)
    return _cached_stem(word)


# Longer than the longest words of either language (Russian's run to about 30 letters).
LONGEST_WORD = 40


@lru_cache(maxsize=200_000)
def _cached_stem(word: str) -> str:
    return _stem_now(word)


def _stem_now(word: str) -> str:
    language = "ru" if word[:1] in _CYRILLIC else "en"
    return _STEMMERS[language].stemWord(word)


def safe_value(value: object) -> str:
    """A lead-supplied value as plain text: no tags, no angle brackets (O'Brien stays)."""
    return _ANGLE_BRACKETS.sub("", strip_tags(str(value))).strip()


def zone_hint(written: object) -> str:
    """For a time zone that is no IANA name: the closest names ("Moscow" -> Europe/Moscow),
    as a hint to append to the problem."""
    want = str(written).strip().replace(" ", "_").lower()
    zones = sorted(available_timezones())
    by_city = {zone.rsplit("/", 1)[-1].lower(): zone for zone in zones if "/" in zone}
    by_name = {zone.lower(): zone for zone in zones}
    close = [by_city[want]] if want in by_city else []
    close = close or [by_name[n] for n in difflib.get_close_matches(want, by_name, 2, 0.6)]
    close = close or [by_city[n] for n in difflib.get_close_matches(want, by_city, 2, 0.75)]
    if not close:
        return " (e.g. Europe/Moscow, America/New_York)"
    return "; did you mean " + " or ".join(repr(zone) for zone in close) + "?"
