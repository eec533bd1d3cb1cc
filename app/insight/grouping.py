"""Grouping unanswered questions that say the same thing in other words or another order, and
drafting a rule for a group. Pure: texts in, groups out."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice

from app.rules.model import WORD
from app.text import fold, normalise, stem

# Words that say nothing about what a question is about.
_STOPWORD_TEXT = """
    a an the is are am was were be been do does did to of in on at for from with and or but
    i me my we our you your it its this that these those there here what when where how why
    who which can could would should will shall may might must please hi hello hey thanks
    thank ok okay yes no not just also so if then than about as by up out any some get got
    have has had want need know tell much many more very really
    и в во на с со к ко по за из у о об от до для не ни но а же ли бы что как где когда
    это этот эта эти тот та то те я мы вы ты он она они мой моя мое наш ваш ваша можно
    нужно есть был была было были будет если или уже еще ещё там тут здесь вот да нет
    пожалуйста спасибо привет здравствуйте скажите подскажите"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# A message joins the group whose telling words it shares most, weighted by how rare each
# word is (IDF), if the share is at least this; a left-over message of its own then joins a
# group at the lower MERGE share.
SIMILAR = 0.45
MERGE = 0.3
# Only groups sharing one of a message's this many rarest stems are compared with it: the cost
# per message is bounded, where comparing with every group made grouping quadratic.
CANDIDATE_STEMS = 4
# ...and of those, at most this many groups per stem (the latest): text without real topics
# would otherwise make every stem's list of groups grow with the number of messages.
GROUPS_PER_STEM = 8
STEM_LETTERS = 6


@dataclass(frozen=True)
class QuestionGroup:
    """Messages that ask the same thing: how many, one example, and their telling words."""

    count: int
    example: str
    words: tuple[str, ...]
    texts: tuple[str, ...]


def key_words(text: str) -> list[str]:
    """The telling words of a message, folded, without stopwords."""
    return [w for w in WORD.findall(fold(normalise(text))) if w not in STOPWORDS and len(w) > 1]


def stems(words: Iterable[str]) -> frozenset[str]:
    """A message's features: each word's stem, cut to STEM_LETTERS, so that words a stemmer
    keeps apart ("студенческая", "студентов") still meet."""
    return frozenset(stem(word)[:STEM_LETTERS] for word in words)


@dataclass
class _Group:
    members: list[int] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def core(self) -> set[str]:
        """The stems at least half its members have."""
        size = len(self.members)
        return {s for s, n in self.counts.items() if n * 2 >= size}


class _Grouper:
    """One pass over the messages with an inverted index from stem to the groups whose core
    has it: near-linear in the number of messages."""

    def __init__(self, signatures: list[frozenset[str]]) -> None:
        self.signatures = signatures
        frequency = Counter(s for signature in signatures for s in signature)
        total = len(signatures) + 1
        self.idf = {s: math.log(total / count) + 0.1 for s, count in frequency.items()}
        self.groups: list[_Group] = []
        # stem -> groups whose core has it, in the order they gained it (a dict keeps order)
        self.index: dict[str, dict[int, None]] = {}
        self.cores: list[set[str]] = []

    def score(self, signature: frozenset[str], core: set[str]) -> float:
        shared = sum(self.idf[s] for s in signature & core)
        every = sum(self.idf[s] for s in signature | core)
        return shared / every if every else 0.0

    def best(self, signature: frozenset[str]) -> tuple[int | None, float]:
        rarest = sorted(signature, key=lambda s: (-self.idf[s], s))[:CANDIDATE_STEMS]
        candidates: set[int] = set()
        for s in rarest:  # the latest groups of each stem: a bounded number, however many
            candidates.update(islice(reversed(self.index.get(s, {})), GROUPS_PER_STEM))
        scored = ((self.score(signature, self.cores[g]), -g) for g in candidates)
        score, group = max(scored, default=(0.0, 1))
        return (-group if candidates else None), score

    def add(self, member: int, group: int | None) -> int:
        if group is None:
            self.groups.append(_Group())
            self.cores.append(set())
            group = len(self.groups) - 1
        target = self.groups[group]
        target.members.append(member)
        target.counts.update(self.signatures[member])
        old, new = self.cores[group], target.core()
        for s in old - new:
            self.index[s].pop(group, None)
        for s in new - old:
            self.index.setdefault(s, {})[group] = None
        self.cores[group] = new
        return group

    def run(self) -> list[list[int]]:
        placed: list[int] = []
        for member, signature in enumerate(self.signatures):
            group, score = self.best(signature)
            placed.append(self.add(member, group if score >= SIMILAR else None))
        return self.merge_loners(placed)

    def merge_loners(self, placed: list[int]) -> list[list[int]]:
        """A message left alone joins the group it is closest to, at the lower MERGE share."""
        final = [list(g.members) for g in self.groups]
        for group, members in enumerate(final):
            if len(members) != 1:
                continue
            member = members[0]
            self.index_without(group)
            target, score = self.best(self.signatures[member])
            if target is not None and score >= MERGE and len(final[target]) > 1:
                final[target].append(member)
                final[group] = []
        return [members for members in final if members]

    def index_without(self, group: int) -> None:
        for s in self.cores[group]:
            self.index[s].pop(group, None)


def group_questions(texts: Sequence[str]) -> list[QuestionGroup]:
    """Groups, largest first; every text is in exactly one group."""
    words = [frozenset(key_words(text)) for text in texts]  # once per text: normalising costs
    members = _Grouper([stems(found) for found in words]).run()
    groups = [_group([(texts[i], words[i]) for i in sorted(group)]) for group in members]
    return sorted(groups, key=lambda g: (-g.count, g.example))


def _group(members: list[tuple[str, frozenset[str]]]) -> QuestionGroup:
    counts: Counter[str] = Counter()
    for _, found in members:
        counts.update(found)
    words = tuple(w for w, n in counts.most_common(5) if n * 2 >= len(members))
    telling = set(words)
    # The example is the shortest message that has the most of the group's words.
    example = min(members, key=lambda m: (-len(m[1] & telling), len(m[0]), m[0]))[0]
    texts = tuple(text for text, _ in members)
    return QuestionGroup(count=len(texts), example=example, words=words, texts=texts)


def draft_rule(group: QuestionGroup, taken_ids: Iterable[str] = ()) -> str:
    """A `[[rule]]` in TOML the owner can paste into a rules file and then edit."""
    return draft_rules([group], taken_ids)


def draft_rules(groups: Iterable[QuestionGroup], taken_ids: Iterable[str] = ()) -> str:
    """`[[rule]]` tables for several groups, with ids unlike each other and `taken_ids`."""
    taken = set(taken_ids)
    drafts = []
    for group in groups:
        rule_id = _free_id(group, taken)
        taken.add(rule_id)
        drafts.append(_rule_toml(group, rule_id))
    return "\n\n".join(drafts)


def _free_id(group: QuestionGroup, taken: set[str]) -> str:
    base = "-".join(group.words[:2]) or "question"
    base = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in base)[:40]
    rule_id, number = f"draft-{base}", 2
    while rule_id in taken:
        rule_id, number = f"draft-{base}-{number}", number + 1
    return rule_id


def _rule_toml(group: QuestionGroup, rule_id: str) -> str:
    phrases = list(group.words[:3]) or [fold(normalise(group.example))[:40]]
    return "\n".join(
        [
            "[[rule]]",
            f"id = {json.dumps(rule_id, ensure_ascii=False)}",
            f"# {group.count} unanswered, e.g. "
            + json.dumps(group.example[:80], ensure_ascii=False).replace("\n", " "),
            "phrases = [" + ", ".join(json.dumps(p, ensure_ascii=False) for p in phrases) + "]",
            'answer = "Write the answer here."',
        ]
    )
