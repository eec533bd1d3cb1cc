"""Building a RuleSet: rules in answer order with the indexes that keep matching cheap
(phrases by first word or its stem, patterns by a rare trigram, examples by similarity)."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from app.rules.examples import build_example_index
from app.rules.literals import trigrams
from app.rules.matching import RuleSet
from app.rules.model import FORM_MIN_LETTERS, Phrase, Rule


def build_rule_set(
    rules: list[Rule],
    files: list[str],
    default_timezone: ZoneInfo,
    min_similarity: float | None = None,
    with_drafts: bool = False,
) -> RuleSet:
    """Order rules (priority, then file order) and build the word, pattern and example
    indexes; `min_similarity` is MATCH_MIN_SIMILARITY (None: calibrated). Draft rules (their
    answer still marked) are left out of every index, so they answer nothing, unless
    `with_drafts` (a replay, to see what a draft would answer)."""
    ordered = sorted(rules, key=lambda r: -r.priority)  # sorted() is stable: file order stays
    ordered = [replace(rule, order=order) for order, rule in enumerate(ordered)]
    index: dict[str, list[tuple[int, Phrase]]] = {}
    form_index: dict[str, list[tuple[int, Phrase]]] = {}
    needs: dict[int, list[str]] = {}
    always: set[int] = set()
    answering = [rule for rule in ordered if with_drafts or not rule.draft]
    for rule in answering:
        if rule.fallback:
            continue
        for phrase in rule.phrases:
            first = phrase.words[0]
            if phrase.stems is not None and len(first) >= FORM_MIN_LETTERS:
                for key in {phrase.stems[0], first}:
                    form_index.setdefault(key, []).append((rule.order, phrase))
            elif phrase.pattern is None or phrase.stems is not None:
                index.setdefault(first, []).append((rule.order, phrase))
            if phrase.pattern is not None:
                always.add(rule.order)  # a typo or a mark: its regex is tried too
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
        form_index={key: tuple(entries) for key, entries in form_index.items()},
        pattern_index=_pattern_index(needs, always),
        always_scanned=frozenset(always),
        fallbacks=tuple(r for r in answering if r.fallback),
        by_language=any(r.languages for r in ordered),
        reads_russian=any("ru" in r.voice for r in answering),
        voices_differ=len({r.voice for r in answering} - {frozenset()}) > 1,
        min_similarity=min_similarity,
        examples=build_example_index([r for r in answering if not r.fallback], min_similarity),
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
