"""Small talk: greetings, thanks, goodbyes and "is anyone there?" in Russian and English
(docs/rules.md). A rule whose match is only small talk yields when the rest of the message says
more; a message that is only small talk no rule matches gets the greeting rule."""

from __future__ import annotations

from collections.abc import Sequence

from app.text import stem

# Each a sequence of folded words (ё read as е), compared by stem, so that "здравствуй",
# "спасибочки" or "thanks" in another form still count.
GREETINGS = (
    "привет", "приветствую", "здравствуйте", "здравствуй", "добрый день", "добрый вечер",
    "доброе утро", "доброй ночи", "доброго дня", "хай", "салют",
    "hello", "hi", "hey", "hiya", "howdy", "greetings", "good morning", "good afternoon",
    "good evening", "good day",
)  # fmt: skip
# "Is anyone there?": alone, it is answered as a greeting is.
CALLS_FOR_SOMEONE = (
    "есть кто", "есть кто нибудь", "есть кто живой", "кто нибудь есть", "вы тут", "вы здесь",
    "тут есть кто", "можно вопрос", "можно спросить", "можно задать вопрос", "ау",
    "anyone there", "is anyone there", "anybody there", "is anybody there", "are you there",
    "anyone here", "is anyone here", "can i ask something", "can i ask a question",
    "may i ask a question", "can i ask you something",
)  # fmt: skip
SMALL_TALK_PHRASES = (
    *GREETINGS,
    *CALLS_FOR_SOMEONE,
    # thanks
    "спасибо", "спасибочки", "благодарю", "благодарим", "спс", "мерси",
    "thanks", "thank you", "thx", "ty", "cheers", "much appreciated",
    # goodbyes
    "пока", "до свидания", "всего доброго", "всего хорошего", "хорошего дня", "до встречи",
    "bye", "goodbye", "bye bye", "see you", "have a nice day", "have a good day",
)  # fmt: skip
# Words that add nothing to small talk around them ("Hi there", "спасибо большое").
FILLER = frozenset(
    (
        "there", "all", "everyone", "everybody", "team", "guys", "folks", "friends", "again",
        "so", "very", "much", "lot", "lots", "you", "ok", "okay", "yes", "please",
        "и", "а", "ну", "вам", "вас", "тебе", "всем", "все", "ребята", "друзья", "большое",
        "огромное", "еще", "снова", "тоже", "очень", "так", "ок", "ага", "да", "пожалуйста",
    )
)  # fmt: skip
# first stem -> the small-talk phrases (as stems) that start with it, longest first
_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _phrase in sorted(SMALL_TALK_PHRASES, key=lambda p: -len(p.split())):
    _stems = tuple(stem(word) for word in _phrase.split())
    _BY_FIRST.setdefault(_stems[0], []).append(_stems)


_CALLS = frozenset(tuple(stem(word) for word in phrase.split()) for phrase in CALLS_FOR_SOMEONE)


def calls_for_someone(stems: Sequence[str]) -> bool:
    """Whether the message says "is anyone there?" in some form ("Есть кто?", "вы тут?")."""
    return any(
        tuple(stems[i : i + len(call)]) == call for i in range(len(stems)) for call in _CALLS
    )


def small_talk_spans(
    tokens: Sequence[tuple[str, int, int]], stems: Sequence[str]
) -> list[tuple[int, int]]:
    """(start, end) of each run of small talk among the message's words."""
    if _BY_FIRST.keys().isdisjoint(stems):
        return []  # most messages: one pass in C
    spans = []
    position = 0
    while position < len(tokens):
        length = _small_talk_at(stems, position) if stems[position] in _BY_FIRST else 0
        if length:
            spans.append((tokens[position][1], tokens[position + length - 1][2]))
            position += length
        else:
            position += 1
    return spans


def _small_talk_at(stems: Sequence[str], position: int) -> int:
    """The number of words of the longest small-talk phrase starting at `position`, or 0."""
    for phrase in _BY_FIRST[stems[position]]:
        if tuple(stems[position : position + len(phrase)]) == phrase:
            return len(phrase)
    return 0


def says_more(tokens: Sequence[tuple[str, int, int]], spans: Sequence[tuple[int, int]]) -> bool:
    """Whether a word outside the small talk carries something (not filler)."""
    return any(
        word not in FILLER and not within(spans, (start, end)) for word, start, end in tokens
    )


def within(spans: Sequence[tuple[int, int]], span: tuple[int, int]) -> bool:
    """Whether `span` lies inside one of `spans`."""
    return any(start <= span[0] and span[1] <= end for start, end in spans)


def blank(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The text with the spans' characters turned to NUL, which no message holds (`clean`
    removes it) and no phrase spans: offsets stay as they were, and the words on either side
    do not become neighbours."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = "\0" * (end - start)
    return "".join(chars)
