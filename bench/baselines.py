"""Generated rule sets and messages, and the two designs the matcher is measured against.

- `HelpPageMatcher`: the help page's approach: for every question, compile
  `(#\\s|)(QUESTION)` and search the upper-cased text, for every message.
- `PlainLoopMatcher`: the loop a careful engineer writes first: one precompiled regex per rule
  (its phrases as whole words, its patterns), rules in order, first match wins.

The plain loop keeps the service's semantics exactly, so it doubles as the reference for the
equivalence test (tests/test_matching_equivalence.py).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import regex

from app.rules import PATTERN_FLAGS, RuleSet
from app.rules.model import WORD, Phrase, Rule
from app.rules.small_talk import blank, says_more, small_talk_spans
from app.text import fold, language_of, normalise, stem

SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "ne",
    "to",
    "su",
    "vi",
    "de",
    "po",
    "ga",
    "li",
    "mo",
    "ru",
    "ze",
    "fa",
    "no",
    "pe",
    "ti",
    "bo",
    "sha",
    "kro",
    "dan",
    "vel",
    "mir",
    "tor",
    "quin",
    "zar",
]
COMMON = [
    "i",
    "want",
    "to",
    "know",
    "the",
    "of",
    "my",
    "is",
    "it",
    "can",
    "you",
    "please",
    "what",
    "when",
    "where",
    "how",
    "this",
    "that",
    "order",
    "help",
    "we",
    "are",
    "for",
    "with",
    "and",
    "a",
    "an",
    "in",
    "on",
    "about",
    "from",
    "thanks",
    "hello",
    "yes",
    "no",
    "maybe",
]


@dataclass(frozen=True)
class GeneratedRule:
    id: str
    phrases: tuple[str, ...]
    patterns: tuple[str, ...]
    priority: int


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def generate_rules(count: int, seed: int = 1, pattern_share: float = 0.1) -> list[GeneratedRule]:
    """`count` rules, each with 1-3 phrases of one or two made-up words; some with a pattern."""
    rng = random.Random(seed)
    words = vocabulary(max(400, count), rng)
    rules = []
    for number in range(count):
        phrases = tuple(
            " ".join(rng.sample(words, rng.choice((1, 2)))) for _ in range(rng.randint(1, 3))
        )
        patterns: tuple[str, ...] = ()
        if rng.random() < pattern_share:
            first, second = rng.sample(words, 2)
            patterns = (
                rng.choice(
                    [
                        rf"\b{first}\s+(?:is|are)\s+{second}",
                        rf"how much (?:is|does) (?:the )?{first}",
                        rf"{first}\W+{second}s?\b",
                        rf"(?P<num>\d{{3,}})\s*{first}",
                    ]
                ),
            )
        rules.append(GeneratedRule(f"r{number}", phrases, patterns, rng.choice((0, 0, 0, 1, 5))))
    return rules


def rules_toml(rules: list[GeneratedRule]) -> str:
    blocks = []
    for rule in rules:
        lines = ["[[rule]]", f'id = "{rule.id}"', f'answer = "answer {rule.id}"']
        if rule.phrases:
            lines.append("phrases = [" + ", ".join(f'"{p}"' for p in rule.phrases) + "]")
        if rule.patterns:
            lines.append("patterns = [" + ", ".join(f"'{p}'" for p in rule.patterns) + "]")
        if rule.priority:
            lines.append(f"priority = {rule.priority}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def write_rule_files(rules: list[GeneratedRule], folder: Path, per_file: int = 1000) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(rules), per_file):
        path = folder / f"{start // per_file:04d}.toml"
        path.write_text(rules_toml(rules[start : start + per_file]), encoding="utf-8")


def generate_messages(rules: list[GeneratedRule], count: int = 300, seed: int = 2) -> list[str]:
    """Realistic-looking chat lines; a third contain some rule's phrase."""
    rng = random.Random(seed)
    words = vocabulary(200, random.Random(seed + 1))
    messages = []
    for number in range(count):
        body = [rng.choice(COMMON + words[:50]) for _ in range(rng.randint(4, 14))]
        if number % 3 == 0:
            rule = rng.choice(rules)
            body.insert(rng.randrange(len(body) + 1), rng.choice(rule.phrases))
        text = " ".join(body)
        messages.append(text.capitalize() + rng.choice(["?", ".", "!", ""]))
    return messages


def phrase_regex(text: str, words: tuple[str, ...], typos: int) -> Any:
    """A phrase as a whole-word regex over folded text, typos as fuzzy matching."""
    body = r"\s+".join(map(regex.escape, words))
    if typos and sum(c.isalpha() for c in text) >= 5:
        body = f"(?:{body}){{e<={typos}}}"
    before = r"(?<!\w)" if regex.match(r"\w", text[0]) else ""
    after = r"(?!\w)" if regex.match(r"\w", text[-1]) else ""
    return regex.compile(before + body + after, regex.V1)


class PlainLoopMatcher:
    """One precompiled regex per rule, tried in rule order; the first match wins. Word forms:
    each form-matching phrase is slid over the message's words. Small talk: when the message
    says more, the rules are tried on its rest, as docs/rules.md words it."""

    def __init__(self, rule_set: RuleSet) -> None:
        self.rules = []
        for rule in rule_set.rules:
            if rule.fallback:
                continue
            phrase_regexes = [phrase_regex(p.text, p.words, rule.typos) for p in rule.phrases]
            patterns = [regex.compile(p.pattern, PATTERN_FLAGS) for p in rule.patterns]
            self.rules.append((rule, phrase_regexes, patterns))
        self.zone = rule_set.timezone

    def match(self, text: str, at: datetime) -> str | None:
        normalised = normalise(text)
        folded = fold(normalised)
        tokens = [(m.group(), m.start(), m.end()) for m in WORD.finditer(folded)]
        spans = small_talk_spans(tokens, [stem(word) for word, _, _ in tokens])
        if not spans or not says_more(tokens, spans):
            found = self._matching(normalised, folded, at)
            return found[0].id if found else None
        aligned = len(folded) == len(normalised)
        answering = self._matching(blank(normalised, spans) if aligned else normalised,
                                   blank(folded, spans), at)  # fmt: skip
        top = max((rule.priority for rule in answering), default=0)
        small = [r for r in self._matching(normalised, folded, at) if r.priority > top]
        chosen = sorted({r.order: r for r in answering + small}.values(), key=lambda r: r.order)
        return chosen[0].id if chosen else None

    def _matching(self, normalised: str, folded: str, at: datetime) -> list[Rule]:
        tokens = [(m.group(), m.start(), m.end()) for m in WORD.finditer(folded)]
        stems = [stem(word) for word, _, _ in tokens]
        seen = {word for word, _, _ in tokens} | set(stems)
        language = language_of(folded)
        found = []
        for rule, phrases, patterns in self.rules:
            if not rule.is_active(at, self.zone) or not rule.speaks(language):
                continue
            if (
                any(p.search(folded) for p in phrases)
                or any(
                    _forms_slide(p, tokens, stems, folded)
                    for p in rule.phrases
                    if p.stems and (p.words[0] in seen or p.stems[0] in seen)
                )
                or any(p.search(normalised) for p in patterns)
            ):
                found.append(rule)
        return found


def _forms_slide(
    phrase: Phrase, tokens: list[tuple[str, int, int]], stems: list[str], folded: str
) -> bool:
    """Whether the phrase's words, in any of their forms, stand next to each other."""
    if phrase.stems is None:
        return False
    size = len(phrase.words)
    for first in range(len(tokens) - size + 1):
        if not all(
            phrase.word_matches(k, tokens[first + k][0], stems[first + k]) for k in range(size)
        ):
            continue
        run = tokens[first : first + size]
        if all(folded[a[2] : b[1]].isspace() for a, b in pairwise(run)):
            return True
    return False


class HelpPageMatcher:
    """The help page's loop: compile `(#\\s|)(QUESTION)` per question per message (Python's
    `re` cache of 512 compiled patterns thrashes past that), search the upper-cased body."""

    def __init__(self, rules: list[GeneratedRule]) -> None:
        self.questions = [(rule.id, q) for rule in rules for q in rule.phrases + rule.patterns]

    def match(self, text: str, at: Any = None) -> str | None:
        body = text.upper()
        answered = None
        for rule_id, question in self.questions:
            # Every matching question was answered, so the loop never stops early.
            if re.compile(r"(#\s|)(" + question.upper() + ")").search(body) and answered is None:
                answered = rule_id
        return answered
