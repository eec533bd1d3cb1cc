"""Rules that match by example questions: the nearest rule, how near, and the threshold it
must reach, calibrated from the rule set itself (SPEC §4)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from app.rules.lead_actions import RuleReader
from app.rules.model import Rule, RuleMatch
from app.similarity import Similarity, words_of
from app.text import fold, normalise

# The calibrated threshold: the similarity that only this share of the examples reach with
# another rule than their own (each example judged as if it were a lead's message, left out
# of its own rule). So an unrelated or ambiguous message rarely gets through.
CALIBRATION_SHARE = 0.85
# Within these bounds; below 20 such measures (one examples rule, or two with few examples)
# the default, which is where calibration lands on the project's own sets.
LOWEST_THRESHOLD, HIGHEST_THRESHOLD, DEFAULT_THRESHOLD = 0.25, 0.6, 0.35
ENOUGH_MEASURES = 20


@dataclass(frozen=True)
class Nearest:
    """A rule's nearness to a message: its similarity (mean of its two nearest examples), the
    nearest example and the threshold that similarity must reach."""

    rule: Rule = field(repr=False)
    similarity: float
    example: str
    threshold: float

    @property
    def reached(self) -> bool:
        return self.similarity >= self.threshold


@dataclass(frozen=True)
class Confusion:
    """An example nearer another rule than its own."""

    rule: Rule = field(repr=False)
    example: str
    own: float
    other: Rule = field(repr=False)
    to_other: float


@dataclass(frozen=True)
class ExampleIndex:
    """Every rule's examples, grouped by rule in rule order."""

    rules: tuple[Rule, ...]
    examples: tuple[str, ...]  # as the owner wrote them
    starts: np.ndarray = field(repr=False)  # where each rule's examples begin; then the end
    similarity: Similarity = field(repr=False)
    thresholds: tuple[float, ...] = ()
    calibrated: float = DEFAULT_THRESHOLD
    confusions: tuple[Confusion, ...] = ()

    @functools.cached_property
    def top_priority(self) -> int:
        """The highest priority of a rule with examples (asked on every message)."""
        return max(rule.priority for rule in self.rules)

    def nearest(self, folded: str, language: str | None = None) -> Nearest | None:
        """The nearest rule that speaks `language`, whether or not it reaches its threshold."""
        ranked = self.ranked(folded, language, 1)
        return ranked[0] if ranked else None

    def ranked(self, folded: str, language: str | None = None, count: int = 3) -> list[Nearest]:
        """The `count` nearest rules that speak `language`, nearest first."""
        if not folded.strip():
            return []
        to_examples = self.similarity.to_each(folded)
        scores = per_rule_of_one(to_examples, self.starts)
        if language is not None and any(rule.languages for rule in self.rules):
            silent = [not rule.speaks(language) for rule in self.rules]
            scores[np.array(silent)] = -1.0
        order = [int(np.argmax(scores))] if count == 1 else np.argsort(-scores, kind="stable")
        found = []
        for position in order[:count]:
            if scores[position] < 0:
                break
            begin, end = self.starts[position], self.starts[position + 1]
            example = begin + int(np.argmax(to_examples[begin:end]))
            found.append(
                Nearest(
                    self.rules[position],
                    round(float(scores[position]), 3),
                    self.examples[example],
                    self.thresholds[position],
                )
            )
        return found


def read_examples(reader: RuleReader) -> tuple[str, ...]:
    """`examples`: non-empty questions, each once."""
    examples = []
    for example in reader.strings("examples"):
        words = words_for_similarity(fold(normalise(example)))
        if not words:
            reader.problem("examples", f"example {example!r} has no words")
        elif example.strip() not in examples:
            examples.append(example.strip())
    return tuple(examples)


def read_min_similarity(reader: RuleReader) -> float | None:
    """`min_similarity`: a number from 0 to 1, for a rule with examples."""
    value = reader.table.get("min_similarity")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        reader.problem("min_similarity", "'min_similarity' must be a number from 0 to 1")
        return None
    if not reader.table.get("examples"):
        reader.problem("min_similarity", "'min_similarity' needs 'examples' beside it")
    return float(value)


def example_match(
    index: ExampleIndex,
    words: str,
    language: str | None,
    at: datetime | None,
    zone: ZoneInfo,
    span: tuple[int, int],
) -> RuleMatch | None:
    """The example match of a message (its words, small talk left out; `span` is the whole
    message): the nearest rule, if it reaches its threshold and is awake at `at` (None: any
    time). A nearest rule that is asleep is no match: better the fallback than the next."""
    near = index.nearest(words, language)
    if near is None or not near.reached:
        return None
    if at is not None and not near.rule.is_active(at, zone):
        return None
    matched = (
        f"nearest example {near.example!r} (similarity {near.similarity:.2f}, "
        f"threshold {near.threshold:.2f})"
    )
    return RuleMatch(near.rule, matched, span, how="example")


def with_example_match(
    found: Iterator[RuleMatch], example: Callable[[], RuleMatch | None], top_priority: int
) -> Iterator[RuleMatch]:
    """Phrase and pattern matches (in rule order) with the example match in its place: after
    those of its priority or higher, before the lower ones (SPEC §5.4). It is worked out only
    when the order depends on it: `RuleSet.match` on a message a phrase settles costs no
    similarity. (The webhook lists every match, to decide before its transaction, so there
    each message of a rule set with examples is compared with them.)"""
    worked_out = False
    placed: RuleMatch | None = None
    given: set[int] = set()
    for match in found:
        if not worked_out and match.rule.priority < top_priority:
            worked_out, placed = True, example()
        if placed is not None and placed.rule.priority > match.rule.priority:
            if placed.rule.order not in given:
                yield placed
            placed = None
        given.add(match.rule.order)
        yield match
    if not worked_out:
        placed = example()
    if placed is not None and placed.rule.order not in given:
        yield placed


def words_for_similarity(folded: str) -> str:
    """What similarity compares: the words, without punctuation (as in the examples)."""
    return " ".join(words_of(folded))


def per_rule_of_one(similarities: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """`per_rule` for one message, in fewer steps: the best example per rule, and the best
    of the rest."""
    begins = starts[:-1]
    counts = np.diff(starts)
    best = np.maximum.reduceat(similarities, begins)
    at_best = similarities >= np.repeat(best, counts)
    second = np.maximum.reduceat(np.where(at_best, -1.0, similarities), begins)
    # Two examples equally near are both the best.
    second = np.where(np.add.reduceat(at_best, begins) > 1, best, second)
    return np.where(second > -1.0, (best + second) / 2, best)


def per_rule(similarities: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each row's similarity to each rule: the mean of its two nearest examples of that rule
    (one nearest example, however close, is weaker evidence than two), or the one there is.
    Values are -1..1; -1 marks an example left out."""
    rules = len(starts) - 1
    counts = np.diff(starts)
    owner = np.repeat(np.arange(rules), counts)
    # One sort puts each rule's examples together in rising order: the key keeps rules apart.
    ordered = np.sort(owner * 4.0 + similarities + 2.0, axis=1) - owner * 4.0 - 2.0
    ends = starts[1:]
    best = ordered[:, ends - 1]
    second = ordered[:, np.maximum(ends - 2, starts[:-1])]
    two = (counts >= 2) & (second > -1.0)
    return np.where(two, (best + second) / 2, best)


def build_example_index(rules: Sequence[Rule], everyone: float | None) -> ExampleIndex | None:
    """The index over the rules with examples (in rule order), calibrated; `everyone` is
    MATCH_MIN_SIMILARITY, which a rule's own `min_similarity` overrides."""
    with_examples = tuple(rule for rule in rules if rule.examples)
    if not with_examples:
        return None
    examples = tuple(example for rule in with_examples for example in rule.examples)
    counts = [len(rule.examples) for rule in with_examples]
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    similarity = Similarity.fit([words_for_similarity(fold(normalise(e))) for e in examples])
    calibrated, confusions = _calibrate(with_examples, starts, similarity, examples, everyone)
    thresholds = tuple(_threshold_of(rule, everyone, calibrated) for rule in with_examples)
    return ExampleIndex(
        with_examples, examples, starts, similarity, thresholds, calibrated, confusions
    )


def _threshold_of(rule: Rule, everyone: float | None, calibrated: float) -> float:
    """A rule's own `min_similarity`, else MATCH_MIN_SIMILARITY, else the calibrated one."""
    if rule.min_similarity is not None:
        return rule.min_similarity
    return everyone if everyone is not None else calibrated


def _calibrate(
    rules: tuple[Rule, ...],
    starts: np.ndarray,
    similarity: Similarity,
    examples: tuple[str, ...],
    everyone: float | None,
) -> tuple[float, tuple[Confusion, ...]]:
    """Each example as a lead's message, left out of its rule: how near it comes to its own
    rule and to the nearest other. The threshold follows the second; a first below the
    second is an example the owner should look at."""
    among = similarity.among()
    np.fill_diagonal(among, -1.0)
    scores = per_rule(among, starts)
    owner = np.repeat(np.arange(len(rules)), np.diff(starts))
    rows = np.arange(len(examples))
    own = scores[rows, owner]
    scores[rows, owner] = -1.0
    nearest_other = scores.argmax(axis=1)
    other = scores[rows, nearest_other] if len(rules) > 1 else np.full(len(examples), -1.0)
    measured = other[other >= 0]
    if len(measured) < ENOUGH_MEASURES:
        calibrated = DEFAULT_THRESHOLD
    else:
        share = float(np.sort(measured)[int(CALIBRATION_SHARE * (len(measured) - 1))])
        calibrated = round(min(max(share, LOWEST_THRESHOLD), HIGHEST_THRESHOLD), 3)
    confusions = tuple(
        Confusion(
            rules[owner[i]],
            examples[i],
            round(float(own[i]), 3),
            rules[nearest_other[i]],
            round(float(other[i]), 3),
        )
        for i in rows
        # Only where it matters: a message like it would get the other rule's answer.
        if own[i] > -1.0
        and other[i] > own[i]
        and other[i] >= _threshold_of(rules[nearest_other[i]], everyone, calibrated)
    )
    return calibrated, confusions
