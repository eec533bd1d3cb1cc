"""Rules that match by example questions (docs/rules.md): a decision learnt from all the rules'
examples together, how confident it is, how near the message is to the chosen rule's examples,
and the thresholds both must reach, calibrated from the rule set itself.

The decision is kernel ridge regression over the fused similarity (app.similarity), squared:
one output per rule, fitted to say 1 for that rule's examples and 0 for every other rule's.
Fitting all the examples together is what makes words that several rules' examples share
("сколько стоит", "do you") weigh little: an example of one rule that is near another rule's
examples pulls that rule's output down there. Squaring the similarity makes an example count
for messages near it, not for those sharing a few stock words. Confidence is the margin
between the best rule's output and the runner-up's; a message far from every example gets
outputs near 0 for all rules, so no confidence. Measured in docs/understanding.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from app.rules.model import Rule, RuleMatch, RulesError
from app.rules.reader import RuleReader
from app.similarity import Similarity, words_of
from app.text import fold, normalise

# The kernel: the fused similarity to this power; the ridge: how much the fit may miss an
# example's own label to stay smooth (chosen on BANKING77 seed 0 and bench/meaning's tune
# files; docs/understanding.md).
KERNEL_POWER = 2
RIDGE = 0.3
# The calibrated confidence: the lowest at which the owner's own examples, each held out in
# turn, get their own rule this often (a wrong answer is rare without the owner tuning it;
# held-out examples are harder than leads' messages: on BANKING77, 92 % here is 94-95 % there).
AIMED_PRECISION = 0.92
LOWEST_THRESHOLD, HIGHEST_THRESHOLD, DEFAULT_THRESHOLD = 0.05, 0.6, 0.08
# Fewer examples than this say too little (a few errors move the level a lot): the default.
ENOUGH_MEASURES = 100
# How near a message must be to the chosen rule's examples (the mean of its two nearest, the
# fused similarity): the level below which only this share of the owner's held-out examples
# fall, and never above the cap. A question about a topic no rule covers falls below it.
NEARNESS_SHARE = 0.05
LOWEST_NEARNESS, HIGHEST_NEARNESS = 0.15, 0.3
MIN_NEARNESS_MEASURES = 20
FLOOR_SAMPLE = 1000
# The most examples a rule set may have (all files together): training grows with the cube
# of the count and its memory with the square (2,000: under 1 s and 256 MB here; 5,000 took
# 6 s and 930 MB: bench/bounds.py, docs/understanding.md).
MAX_EXAMPLES = 2000


@dataclass(frozen=True)
class Nearest:
    """A rule as the decision ranks it for a message: its confidence (its output's margin
    over the runner-up's), how near the message is to its examples (the mean of the two
    nearest), its nearest example, and the thresholds both must reach."""

    rule: Rule = field(repr=False)
    confidence: float
    similarity: float
    example: str
    threshold: float
    floor: float

    @property
    def reached(self) -> bool:
        return self.confidence >= self.threshold and self.similarity >= self.floor


@dataclass(frozen=True)
class Confusion:
    """An example that the decision, fitted without it, gives another rule confidently."""

    rule: Rule = field(repr=False)
    example: str
    other: Rule = field(repr=False)
    confidence: float


@dataclass(frozen=True)
class ExampleIndex:
    """Every rule's examples, grouped by rule in rule order, with the decision fitted on
    them: `weights` (examples x rules) turn a message's kernel row into each rule's output."""

    rules: tuple[Rule, ...]
    examples: tuple[str, ...]  # as the owner wrote them
    starts: np.ndarray = field(repr=False)  # where each rule's examples begin; then the end
    similarity: Similarity = field(repr=False)
    weights: np.ndarray = field(repr=False)
    thresholds: tuple[float, ...] = ()
    calibrated: float = DEFAULT_THRESHOLD
    floor: float = LOWEST_NEARNESS
    confusions: tuple[Confusion, ...] = ()

    @functools.cached_property
    def top_priority(self) -> int:
        """The highest priority of a rule with examples (asked on every message)."""
        return max(rule.priority for rule in self.rules)

    def nearest(self, folded: str, language: str | None = None) -> Nearest | None:
        """The rule the decision gives, among those that speak `language`, whether or not
        it reaches its thresholds."""
        ranked = self.ranked(folded, language, 1)
        return ranked[0] if ranked else None

    def ranked(self, folded: str, language: str | None = None, count: int = 3) -> list[Nearest]:
        """The `count` rules with the highest outputs that speak `language`, highest first;
        each one's confidence is its margin over the next."""
        if not folded.strip():
            return []
        to_examples = self.similarity.to_each(folded)
        outputs = kernel(to_examples.astype(np.float32)) @ self.weights
        if language is not None and any(rule.languages for rule in self.rules):
            silent = np.array([not rule.speaks(language) for rule in self.rules])
            if silent.all():
                return []
            outputs[silent] = -np.inf
        order = np.argsort(-outputs, kind="stable")
        nearness = per_rule_of_one(to_examples, self.starts)
        found = []
        for rank, position in enumerate(order[:count]):
            if not np.isfinite(outputs[position]):
                break
            following = outputs[order[rank + 1]] if rank + 1 < len(order) else 0.0
            margin = outputs[position] - (following if np.isfinite(following) else 0.0)
            begin, end = self.starts[position], self.starts[position + 1]
            example = begin + int(np.argmax(to_examples[begin:end]))
            found.append(
                Nearest(
                    self.rules[position],
                    round(float(np.clip(margin, 0.0, 1.0)), 3),
                    round(float(nearness[position]), 3),
                    self.examples[example],
                    self.thresholds[position],
                    self.floor,
                )
            )
        return found


def kernel(similarities: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The decision's kernel from the fused similarity (0-1): its square (into `out`, which
    may be `similarities` itself)."""
    clipped = np.clip(similarities, 0.0, None, out=out)
    return np.square(clipped, out=clipped)


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
    message): the rule the decision gives, if it is confident enough, the message near enough
    to its examples, and the rule awake at `at` (None: any time). A rule that is asleep is no
    match: better the fallback than the next."""
    near = index.nearest(words, language)
    if near is None or not near.reached:
        return None
    if at is not None and not near.rule.is_active(at, zone):
        return None
    matched = (
        f"examples, confidence {near.confidence:.2f} (threshold {near.threshold:.2f}), "
        f"nearest example {near.example!r} (similarity {near.similarity:.2f})"
    )
    return RuleMatch(near.rule, matched, span, how="example")


def with_example_match(
    found: Iterator[RuleMatch], example: Callable[[], RuleMatch | None], top_priority: int
) -> Iterator[RuleMatch]:
    """Phrase and pattern matches (in rule order) with the example match in its place: after those
    of its priority or higher, before the lower ones (docs/contract.md, rule order). It is worked
    out only when the order depends on it: `RuleSet.match` on a message a phrase settles costs no
    similarity. (The webhook lists every match, to decide before its transaction, so there each
    message of a rule set with examples is compared with them.)"""
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
    """The index over the rules with examples (in rule order), its decision fitted and
    calibrated; `everyone` is MATCH_MIN_SIMILARITY, which a rule's own `min_similarity`
    overrides. Deterministic: the same files give the same decisions in every process."""
    with_examples = tuple(rule for rule in rules if rule.examples)
    if not with_examples:
        return None
    refuse_too_many_examples(with_examples)
    examples = tuple(example for rule in with_examples for example in rule.examples)
    counts = [len(rule.examples) for rule in with_examples]
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    similarity = Similarity.fit([words_for_similarity(fold(normalise(e))) for e in examples])
    among = similarity.among().astype(np.float32)
    owner = np.repeat(np.arange(len(with_examples)), counts)
    floor = _nearness_floor(among, starts, owner)
    # The similarities become the kernel in place: at MAX_EXAMPLES the matrix is 16 MB.
    weights, held_out = _fit(kernel(among, out=among), owner, len(with_examples))
    calibrated = _calibrated_confidence(held_out, owner)
    thresholds = tuple(_threshold_of(rule, everyone, calibrated) for rule in with_examples)
    confusions = _confusions(with_examples, examples, held_out, owner, thresholds)
    return ExampleIndex(
        with_examples,
        examples,
        starts,
        similarity,
        weights,
        thresholds,
        calibrated,
        floor,
        confusions,
    )


def refuse_too_many_examples(rules: Sequence[Rule]) -> None:
    """Raise RulesError, naming the rule whose examples pass MAX_EXAMPLES, before any work
    that grows with their number."""
    total = 0
    for rule in rules:
        total += len(rule.examples)
        if total > MAX_EXAMPLES:
            raise RulesError(
                [
                    f"{rule.source}: rule {rule.id!r}: the rules' examples come to more than "
                    f"{MAX_EXAMPLES} here (the most the service supports: training grows with "
                    "the cube of their number); keep the 10-20 most different per rule"
                ]
            )


def _fit(gram: np.ndarray, owner: np.ndarray, rules: int) -> tuple[np.ndarray, np.ndarray]:
    """Kernel ridge regression onto each rule's indicator: the weights, and each example's
    outputs from the fit without it (exact, in closed form: with M = (K + rI)^-1, the
    held-out output is the output less the example's own share, (F - hY) / (1 - h), where
    h = 1 - r M_ii)."""
    targets = np.zeros((len(owner), rules), dtype=np.float32)
    targets[np.arange(len(owner)), owner] = 1.0
    # In single precision, in place: at MAX_EXAMPLES each n x n matrix is 16 MB.
    gram = gram.astype(np.float32, copy=False)
    gram[np.diag_indices_from(gram)] += RIDGE
    inverse = np.linalg.inv(gram)
    gram[np.diag_indices_from(gram)] -= RIDGE
    weights = inverse @ targets
    fitted = gram @ weights
    own_share = 1.0 - RIDGE * np.diag(inverse)
    held_out = (fitted - own_share[:, None] * targets) / (1.0 - own_share)[:, None]
    return weights, held_out


def _margins(outputs: np.ndarray) -> np.ndarray:
    """Each row's best output less its second best (the best itself with one rule)."""
    if outputs.shape[1] == 1:
        return outputs[:, 0]
    ordered = np.sort(outputs, axis=1)
    return ordered[:, -1] - ordered[:, -2]


def _calibrated_confidence(held_out: np.ndarray, owner: np.ndarray) -> float:
    """The lowest confidence at which the held-out examples answered get their own rule
    AIMED_PRECISION of the time, within the bounds; the default with too few of them."""
    if len(owner) < ENOUGH_MEASURES or held_out.shape[1] < 2:
        return DEFAULT_THRESHOLD
    margins = _margins(held_out)
    right = held_out.argmax(axis=1) == owner
    order = np.argsort(-margins, kind="stable")
    precision = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    meeting = np.flatnonzero(precision >= AIMED_PRECISION)
    level = float(margins[order][meeting[-1]]) if len(meeting) else HIGHEST_THRESHOLD
    return round(min(max(level, LOWEST_THRESHOLD), HIGHEST_THRESHOLD), 3)


def _nearness_floor(among: np.ndarray, starts: np.ndarray, owner: np.ndarray) -> float:
    """How near a message must be to the chosen rule's examples: the level below which only
    NEARNESS_SHARE of the owner's examples, each held out, are to their own rule."""
    # Measured on at most FLOOR_SAMPLE of them, evenly spread: enough for a 5th percentile.
    rows = np.unique(np.linspace(0, len(owner) - 1, min(len(owner), FLOOR_SAMPLE)).astype(int))
    held = among[rows].astype(np.float64)
    held[np.arange(len(rows)), rows] = -1.0
    own = per_rule(held, starts)[np.arange(len(rows)), owner[rows]]
    own = own[own > -1.0]
    if len(own) < MIN_NEARNESS_MEASURES:
        return LOWEST_NEARNESS
    level = float(np.quantile(own, NEARNESS_SHARE))
    return round(min(max(level, LOWEST_NEARNESS), HIGHEST_NEARNESS), 3)


def _threshold_of(rule: Rule, everyone: float | None, calibrated: float) -> float:
    """A rule's own `min_similarity`, else MATCH_MIN_SIMILARITY, else the calibrated one."""
    if rule.min_similarity is not None:
        return rule.min_similarity
    return everyone if everyone is not None else calibrated


def _confusions(
    rules: tuple[Rule, ...],
    examples: tuple[str, ...],
    held_out: np.ndarray,
    owner: np.ndarray,
    thresholds: tuple[float, ...],
) -> tuple[Confusion, ...]:
    """The examples that the decision fitted without them gives another rule, confidently:
    a message like them would get that rule's answer."""
    chosen = held_out.argmax(axis=1)
    margins = _margins(held_out)
    return tuple(
        Confusion(rules[owner[i]], examples[i], rules[chosen[i]], round(float(margins[i]), 3))
        for i in range(len(examples))
        if chosen[i] != owner[i] and margins[i] >= thresholds[chosen[i]]
    )
