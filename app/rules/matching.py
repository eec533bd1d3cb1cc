"""The rule set in answer order, and the indexes that keep matching cheap: phrases by their
first word (as written, or by its stem for their other forms), patterns by a trigram of a
literal they need. Small talk yields to the question beside it (docs/rules.md)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from zoneinfo import ZoneInfo

from app.rules.examples import (
    ExampleIndex,
    example_match,
    with_example_match,
)
from app.rules.languages import lead_language_first, or_greeting
from app.rules.model import (
    WORD,
    Phrase,
    Rule,
    RuleMatch,
    bigrams,
)
from app.rules.scanning import scan
from app.rules.small_talk import (
    GREETINGS,
    blank,
    calls_for_someone,
    says_more,
    small_talk_spans,
    within,
)
from app.rules.translit import is_russian_in_latin, language_told, to_cyrillic
from app.text import fold, language_of, normalise, stem

log = logging.getLogger(__name__)

# All the pattern searches for one message together stop after this long (each one also has
# PATTERN_TIMEOUT_SECONDS of its own).
PATTERNS_BUDGET_SECONDS = 0.25


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
    # the stem of a phrase's first word (and the word itself) -> the phrases that match forms
    form_index: dict[str, tuple[tuple[int, Phrase], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # a trigram of a literal some pattern needs -> orders of the rules with such a pattern
    pattern_index: dict[str, tuple[int, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # orders of rules whose regexes must be tried on every message (no literal to index)
    always_scanned: frozenset[int] = field(default=frozenset(), compare=False, repr=False)
    fallbacks: tuple[Rule, ...] = field(default=(), compare=False, repr=False)
    # Whether some rule answers only some languages (else the message's is never worked out).
    by_language: bool = field(default=False, compare=False, repr=False)
    # Whether rules speak different languages (their `language` or their answers' letters):
    # then, of the rules matching at one priority, those in the lead's language come first.
    voices_differ: bool = field(default=False, compare=False, repr=False)
    # Whether some rule speaks Russian: then Russian in Latin letters is read in Cyrillic.
    reads_russian: bool = field(default=False, compare=False, repr=False)
    # MATCH_MIN_SIMILARITY (None: calibrated), and the rules with example questions.
    min_similarity: float | None = field(default=None, compare=False, repr=False)
    examples: ExampleIndex | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.rules)

    def match(
        self, text: str, at: datetime | None = None, tags: frozenset[str] = frozenset()
    ) -> RuleMatch | None:
        """The first matching non-fallback rule active at `at`, in rule order (docs/contract.md,
        rule order), for a conversation with `tags` (none: an untagged one)."""
        return next(self.iter_matches(text, at, tags), None)

    def iter_matches(
        self, text: str, at: datetime | None = None, tags: frozenset[str] = frozenset()
    ) -> Iterator[RuleMatch]:
        """Every matching non-fallback rule active at `at`, lazily, in rule order; rules the
        conversation's `tags` rule out are skipped like rules for another channel."""
        return self.iter_matches_normalised(normalise(text), at, tags=tags)

    def iter_matches_normalised(
        self,
        normalised: str,
        at: datetime | None = None,
        *,
        any_time: bool = False,
        small_talk_yields: bool = True,
        tags: frozenset[str] = frozenset(),
    ) -> Iterator[RuleMatch]:
        """`iter_matches` for text already normalised (by `app.text.normalise`). For the
        explanation of a match: `any_time` ignores hours; `small_talk_yields` False matches
        as if small talk were like any other words. Russian written in Latin letters is
        matched as if written in Cyrillic; then its patterns as written ("8 927 ...")."""
        at = at or datetime.now(UTC)
        folded = fold(normalised)
        found = self._matches(normalised, folded, at, any_time, small_talk_yields)
        if self.reads_russian and is_russian_in_latin(folded):
            cyrillic = to_cyrillic(folded)
            found = _each_rule_once(
                chain(
                    self._matches(cyrillic, cyrillic, at, any_time, small_talk_yields),
                    (match for match in found if match.how == "pattern"),
                )
            )
        return (match for match in found if match.rule.fits_tags(tags))

    def _matches(
        self, normalised: str, folded: str, at: datetime, any_time: bool, small_talk_yields: bool
    ) -> Iterator[RuleMatch]:
        tokens = [(m.group(), m.start(), m.end()) for m in WORD.finditer(folded)]
        stems = list(map(stem, [token[0] for token in tokens]))
        spans = small_talk_spans(tokens, stems) if small_talk_yields else []
        more = bool(spans) and says_more(tokens, spans)
        # Worked out once, for the phrases and patterns and for the examples alike.
        language = language_of(folded) if self.by_language or self.voices_differ else None
        calling = bool(spans) and not more and calls_for_someone(stems)
        if calling and language is None:
            language = language_of(folded)  # the greeting rule in the lead's language
        when = None if any_time else at
        found = self._in_rule_order(normalised, folded, tokens, stems, when, language)
        if self.examples is not None:
            words = _besides_small_talk(tokens, spans if more else [])
            found = self._with_examples(found, words, len(folded), when, language)
        if self.voices_differ and language is not None:
            found = lead_language_first(found, language)
        if calling:  # only small talk, calling for someone: "Привет! Есть кто?"
            return or_greeting(
                found, self.greeting_rules, (0, len(folded)), when, self.timezone, language
            )
        if not more:
            return found
        return self._question_first(found, normalised, folded, tokens, spans)

    def language_of_message(self, folded: str) -> str | None:
        """The lead's language by the letters, Russian in Latin letters told Russian when some
        rule speaks Russian."""
        return language_told(folded) if self.reads_russian else language_of(folded)

    @functools.cached_property
    def greeting_rules(self) -> tuple[Rule, ...]:
        """The rules whose phrases match a built-in greeting, in rule order: the rules that
        answer a greeting, and so a message that is only small talk."""
        found: set[int] = set()
        for greeting in GREETINGS:
            tokens = [(m.group(), m.start(), m.end()) for m in WORD.finditer(greeting)]
            found.update(self._phrase_hits(tokens, [stem(t[0]) for t in tokens], greeting))
        return tuple(self.rules[order] for order in sorted(found))

    def compared_with_examples(self, normalised: str) -> str:
        """The words of a message that examples are compared with: all but its small talk,
        when it says more than that."""
        folded = fold(normalised)
        tokens = [(m.group(), m.start(), m.end()) for m in WORD.finditer(folded)]
        spans = small_talk_spans(tokens, list(map(stem, [token[0] for token in tokens])))
        return _besides_small_talk(tokens, spans if says_more(tokens, spans) else [])

    def _with_examples(
        self,
        found: Iterator[RuleMatch],
        words: str,
        length: int,
        at: datetime | None,
        language: str | None,
    ) -> Iterator[RuleMatch]:
        index = self.examples
        assert index is not None
        return with_example_match(
            found,
            lambda: example_match(index, words, language, at, self.timezone, (0, length)),
            index.top_priority,
        )

    def _question_first(
        self,
        found: Iterator[RuleMatch],
        normalised: str,
        folded: str,
        tokens: list[tuple[str, int, int]],
        spans: list[tuple[int, int]],
    ) -> Iterator[RuleMatch]:
        """The matches of a message that says more than small talk, lazily. The rest of the
        message decides: a rule whose match lies in the small talk is tried again on the rest
        (the small talk blanked out, offsets unchanged); one that matches only the small talk
        keeps its place if the owner gave it a higher priority than every rule matching the
        rest, and otherwise yields, to them or to the fallback. Matches come in priority
        order, so the first rule matching the rest settles which small-talk ones stay."""
        small_only: list[RuleMatch] = []
        rest = None
        top: int | None = None
        for match in found:
            if within(spans, match.span):
                if rest is None:
                    rest = _Rest.of(normalised, folded, tokens, spans)
                again = _match_one(match.rule, rest)
                if again is None:
                    if top is None:
                        small_only.append(match)
                    continue
                match = again
            if top is None:
                top = match.rule.priority
                yield from (m for m in small_only if m.rule.priority > top)
            yield match
        if top is None:
            yield from (m for m in small_only if m.rule.priority > 0)

    def _in_rule_order(
        self,
        normalised: str,
        folded: str,
        tokens: list[tuple[str, int, int]],
        stems: list[str],
        at: datetime | None,
        language: str | None,
    ) -> Iterator[RuleMatch]:
        """Every matching rule in rule order; rules asleep at `at` (None: none) or silent in
        the message's `language` left out."""
        phrase_hits = self._phrase_hits(tokens, stems, folded)
        to_scan = self._scan_candidates(tokens)
        text_bigrams = bigrams(folded) if to_scan else set()
        # However many slow patterns a message meets, together they get this long.
        deadline = time.monotonic() + PATTERNS_BUDGET_SECONDS
        for order in sorted(phrase_hits.keys() | to_scan):
            rule = self.rules[order]
            # Hours and language first: a rule that cannot answer is not worth a regex search.
            if at is not None and not rule.is_active(at, self.timezone):
                continue
            if not rule.speaks(language):
                continue
            found = phrase_hits.get(order) or scan(rule, normalised, folded, text_bigrams, deadline)
            if found is not None:
                yield found

    def active_fallbacks(
        self, at: datetime | None = None, text: str = "", tags: frozenset[str] = frozenset()
    ) -> Iterator[Rule]:
        """Fallback rules active at `at` that speak the language of `text` (Russian in Latin
        letters is Russian): those in its language first, then rule order."""
        at = at or datetime.now(UTC)
        differ = self.by_language or self.voices_differ
        language = self.language_of_message(fold(text)) if differ else None
        zone = self.timezone
        awake = [
            r
            for r in self.fallbacks
            if r.speaks(language) and r.fits_tags(tags) and r.is_active(at, zone)
        ]
        # The lead's language first, as among the other rules (docs/contract.md, rule order).
        return iter(sorted(awake, key=lambda rule: not rule.prefers(language)))

    def _phrase_hits(
        self, tokens: list[tuple[str, int, int]], stems: list[str], folded: str
    ) -> dict[int, RuleMatch]:
        """Rules with a word-indexed phrase in the text: only the phrases starting with one of
        the text's words (or its stem) are compared, so the cost follows the message, not the
        rule count."""
        hits: dict[int, RuleMatch] = {}
        index, form_index = self.index, self.form_index
        for position, (word, start, _) in enumerate(tokens):
            exact, forms = index.get(word), form_index.get(stems[position])
            if exact is None and forms is None:
                continue  # most words start no phrase
            for order, phrase in _chain(exact, forms):
                if order in hits:
                    continue
                end = _words_follow(phrase, tokens, stems, position, folded)
                if end is not None:
                    hits[order] = _phrase_match(self.rules[order], phrase, folded, start, end)
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


def _each_rule_once(found: Iterator[RuleMatch]) -> Iterator[RuleMatch]:
    seen: set[int] = set()
    for match in found:
        if match.rule.order not in seen:
            seen.add(match.rule.order)
            yield match


def _besides_small_talk(tokens: list[tuple[str, int, int]], spans: list[tuple[int, int]]) -> str:
    return " ".join(word for word, start, end in tokens if not within(spans, (start, end)))


def _words_follow(
    phrase: Phrase,
    tokens: list[tuple[str, int, int]],
    stems: list[str],
    position: int,
    folded: str,
) -> int | None:
    """End offset when the phrase's words (or their forms) stand at `position`, separated by
    white space only."""
    words = phrase.words
    if position + len(words) > len(tokens):
        return None
    for offset in range(len(words)):
        word, start, _ = tokens[position + offset]
        if word != words[offset] and not phrase.word_matches(
            offset, word, stems[position + offset]
        ):
            return None
        if offset and not folded[tokens[position + offset - 1][2] : start].isspace():
            return None
    return tokens[position + len(words) - 1][2]


def _chain(
    first: tuple[tuple[int, Phrase], ...] | None, second: tuple[tuple[int, Phrase], ...] | None
) -> tuple[tuple[int, Phrase], ...]:
    """The entries of two index look-ups (most words have none: no tuple is built then)."""
    if first is None:
        return second or ()
    return first + second if second else first


@dataclass(frozen=True)
class _Rest:
    """A message with its small talk blanked out: what is left to decide by."""

    normalised: str
    folded: str
    tokens: list[tuple[str, int, int]]
    stems: list[str]

    @classmethod
    def of(
        cls,
        normalised: str,
        folded: str,
        tokens: list[tuple[str, int, int]],
        spans: list[tuple[int, int]],
    ) -> _Rest:
        kept = [token for token in tokens if not within(spans, token[1:])]
        # Patterns see the normalised text: blanked too when its offsets agree with the
        # folded one (case folding can change a length: ß -> ss).
        aligned = len(folded) == len(normalised)
        return cls(
            blank(normalised, spans) if aligned else normalised,
            blank(folded, spans),
            kept,
            [stem(word) for word, _, _ in kept],
        )


def _match_one(rule: Rule, rest: _Rest) -> RuleMatch | None:
    """One rule against the rest of a message: its indexed phrases, then its regexes."""
    for phrase in rule.phrases:
        if phrase.pattern is not None and phrase.stems is None:
            continue  # a regex only: _scan tries it
        for position, (_, start, _) in enumerate(rest.tokens):
            end = _words_follow(phrase, rest.tokens, rest.stems, position, rest.folded)
            if end is not None:
                return _phrase_match(rule, phrase, rest.folded, start, end)
    deadline = time.monotonic() + PATTERNS_BUDGET_SECONDS
    return scan(rule, rest.normalised, rest.folded, bigrams(rest.folded), deadline)


def _phrase_match(rule: Rule, phrase: Phrase, folded: str, start: int, end: int) -> RuleMatch:
    # The text's white space is single spaces (normalised), as in the phrase.
    if folded[start:end] == phrase.text:
        return RuleMatch(rule, f"phrase {phrase.text!r}", (start, end), how="phrase")
    matched = f"a word form of phrase {phrase.text!r}"
    return RuleMatch(rule, matched, (start, end), how="word form")
