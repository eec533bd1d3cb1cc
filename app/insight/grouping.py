"""Grouping unanswered questions that say the same thing in other words or another order, and
drafting a rule for a group. Pure: texts in, groups out."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.rules.model import WORD
from app.text import fold, normalise

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
STEM_LENGTH = 5
SIMILAR = 0.5


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
    # A crude stem: "delivery", "delivered" and "доставка", "доставку" share their start.
    return frozenset(word[:STEM_LENGTH] for word in words)


def similarity(first: frozenset[str], second: frozenset[str]) -> float:
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)


def group_questions(texts: Sequence[str]) -> list[QuestionGroup]:
    """Groups, largest first; each message joins the most similar group if similar enough."""
    members: list[list[str]] = []
    signatures: list[Counter[str]] = []
    for text in texts:
        signature = stems(key_words(text))
        best, best_score = None, 0.0
        for index, counts in enumerate(signatures):
            common = frozenset(s for s, n in counts.items() if n * 2 >= len(members[index]))
            score = similarity(signature, common)
            if score > best_score:
                best, best_score = index, score
        if best is not None and best_score >= SIMILAR:
            members[best].append(text)
            signatures[best].update(signature)
        else:
            members.append([text])
            signatures.append(Counter(signature))
    groups = [_group(texts_of_group) for texts_of_group in members]
    return sorted(groups, key=lambda g: (-g.count, g.example))


def _group(texts: list[str]) -> QuestionGroup:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(set(key_words(text)))
    words = tuple(w for w, n in counts.most_common(5) if n * 2 >= len(texts))
    # The example is the shortest message that has the most of the group's words.
    example = min(texts, key=lambda t: (-len(set(key_words(t)) & set(words)), len(t), t))
    return QuestionGroup(count=len(texts), example=example, words=words, texts=tuple(texts))


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
