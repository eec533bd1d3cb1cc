"""Grouping unanswered questions that say the same thing in other words or another order, and
drafting a rule for a group. Pure: texts in, groups out."""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from app.rules.model import DRAFT_ANSWER, WORD
from app.rules.translit import is_russian_in_latin, language_told, to_cyrillic
from app.similarity import meaning_vectors
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
    пожалуйста спасибо привет здравствуйте скажите подскажите вас вам нас нам мне меня
    какой какая какие какое"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# Grouping by meaning (app.similarity's vectors), in two steps. First each question joins the
# nearest of the groups so far if it is at least this similar (else starts one): many small,
# tight groups, found in one pass compared with a bounded number of groups each...
TIGHT = 0.5
# ...of which the multi-question groups and the latest this many.
RECENT_GROUPS = 1000
# Then groups merge, mutually nearest pairs at a time, while the average similarity of their
# questions (average linkage) is at least this.
MERGE = 0.25
_CHUNK = 256


@dataclass(frozen=True)
class QuestionGroup:
    """Messages that ask the same thing: how many, the most typical one, their telling words,
    and the texts, most typical first."""

    count: int
    example: str
    words: tuple[str, ...]
    texts: tuple[str, ...]

    @property
    def farthest(self) -> tuple[str, ...]:
        """Its two least typical questions (each wording once, not the example), shown beside
        the example: a group that mixes topics shows it before a rule is drafted from it."""
        wordings = list(dict.fromkeys(" ".join(text.split()) for text in self.texts))
        return tuple(reversed([w for w in wordings if w != " ".join(self.example.split())][-2:]))


def key_words(text: str) -> list[str]:
    """The telling words of a message, folded, without stopwords."""
    return telling_words(fold(normalise(text)))


def telling_words(folded: str) -> list[str]:
    """`key_words` of a text already normalised and case-folded."""
    return [w for w in WORD.findall(folded) if w not in STOPWORDS and len(w) > 1]


def group_questions(texts: Sequence[str]) -> list[QuestionGroup]:
    """Groups, largest first; every text is in exactly one group."""
    of_text: dict[str, list[str]] = {}  # a question as compared -> the texts that ask it
    for text in texts:
        folded = fold(normalise(text))
        # Russian in Latin letters ("skolko stoit") is compared as if written in Cyrillic.
        compared = to_cyrillic(folded) if is_russian_in_latin(folded) else folded
        of_text.setdefault(compared, []).append(text)
    distinct = list(of_text)
    if not distinct:
        return []
    vectors = meaning_vectors(distinct)
    labels = _merged(vectors, _tight_groups(vectors))
    groups = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        centre = vectors[rows].sum(axis=0)
        typical = rows[np.argsort(-(vectors[rows] @ centre), kind="stable")]
        members = [text for row in typical for text in of_text[distinct[row]]]
        groups.append(_group(members, [distinct[row] for row in typical]))
    return sorted(groups, key=lambda g: (-g.count, g.example))


def _tight_groups(vectors: np.ndarray) -> np.ndarray:
    """One pass, a chunk of questions at a time (a matrix product per chunk): each joins the
    most similar group at TIGHT or more, among the multi-question groups and the latest
    RECENT_GROUPS (so the cost per question is bounded), or one started earlier in its chunk."""
    sums = np.zeros((0, vectors.shape[1]), dtype=np.float32)
    sizes = np.zeros(0, dtype=np.int64)
    labels = np.zeros(len(vectors), dtype=np.int64)
    for begin in range(0, len(vectors), _CHUNK):
        rows = vectors[begin : begin + _CHUNK]
        known = np.flatnonzero((sizes >= 2) | (np.arange(len(sums)) >= len(sums) - RECENT_GROUPS))
        centres = sums[known] / np.linalg.norm(sums[known], axis=1, keepdims=True)
        to_groups = rows @ centres.T
        within = rows @ rows.T
        started: list[int] = []  # rows of this chunk that started a group
        for row in range(len(rows)):
            label, best = -1, TIGHT
            if len(known):
                nearest = int(np.argmax(to_groups[row]))
                if to_groups[row, nearest] >= best:
                    label, best = int(known[nearest]), float(to_groups[row, nearest])
            for first in started:
                if within[row, first] >= best:
                    label, best = int(labels[begin + first]), float(within[row, first])
            if label < 0:
                label = len(sums) + len(started)
                started.append(row)
            labels[begin + row] = label
        grown = len(sums) + len(started)
        sums = np.vstack([sums, np.zeros((len(started), sums.shape[1]), np.float32)])
        sums += sum_by(labels[begin : begin + len(rows)], rows, grown)
        sizes = np.bincount(labels[: begin + len(rows)], minlength=grown)
    return labels


def sum_by(labels: np.ndarray, rows: np.ndarray, count: int) -> np.ndarray:
    """The sum of the rows of each label (0 to count - 1), by sorting: np.add.at is slow."""
    order = np.argsort(labels, kind="stable")
    present, starts = np.unique(labels[order], return_index=True)
    found = np.zeros((count, rows.shape[1]), dtype=rows.dtype)
    found[present] = np.add.reduceat(rows[order], starts, axis=0)
    return found


def _merged(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Average linkage over the tight groups: in each round every pair of groups that are each
    other's nearest, at MERGE or more, becomes one. A group's similarity to another is the
    mean similarity of their questions: the dot product of their vector sums over the sizes."""
    count = int(labels.max()) + 1
    sums = sum_by(labels, vectors, count).astype(np.float64)
    sizes = np.bincount(labels, minlength=count).astype(np.float64)
    target = np.arange(count)  # each tight group's final group
    alive = np.arange(count)
    while len(alive) > 1:
        linkage = (sums[alive] @ sums[alive].T) / np.outer(sizes[alive], sizes[alive])
        np.fill_diagonal(linkage, -np.inf)
        nearest = linkage.argmax(axis=1)
        positions = np.arange(len(alive))
        pairs = (
            (nearest[nearest] == positions)
            & (positions < nearest)
            & (linkage[positions, nearest] >= MERGE)
        )
        if not pairs.any():
            break
        kept, gone = alive[positions[pairs]], alive[nearest[pairs]]
        sums[kept] += sums[gone]
        sizes[kept] += sizes[gone]
        sizes[gone] = 0
        target[gone] = kept
        alive = alive[sizes[alive] > 0]
    # Follow each merge to its end (a group merged into one that merged again).
    while not np.array_equal(target[target], target):
        target = target[target]
    return target[labels]


def _group(members: list[str], folded: list[str]) -> QuestionGroup:
    """A group from its texts, most typical first: that one is its example. Its telling
    words: those at least half its distinct questions have."""
    counts: Counter[str] = Counter()
    for text in folded:
        counts.update(set(telling_words(text)))
    words = tuple(w for w, n in counts.most_common(5) if n * 2 >= len(folded))
    return QuestionGroup(count=len(members), example=members[0], words=words, texts=tuple(members))


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


# Russian letters in Latin ones, so that an id made of a group's words is valid.
_SPELT = "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya"
_LATIN = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", _SPELT.split(" "), strict=True))


def transliterated(word: str) -> str:
    """A word in Latin letters, digits and "-" only (Cyrillic spelt out, other letters
    without their accents, anything else dropped)."""
    spelt = "".join(_LATIN.get(ch, ch) for ch in word.lower()).replace("-", "")
    plain = unicodedata.normalize("NFKD", spelt).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain if ch.isalnum())


def _free_id(group: QuestionGroup, taken: set[str]) -> str:
    """`draft-` and two telling words: those most of the group shares, else the most frequent
    in it, else the example's own words (a question of stopwords only, "how much?")."""
    frequent = Counter(w for text in group.texts for w in set(key_words(text)))
    for words in (
        group.words,
        [word for word, _ in frequent.most_common()],
        WORD.findall(fold(normalise(group.example))),
    ):
        spelt = [latin for word in words if (latin := transliterated(word))]
        base = "-".join(spelt[:2])[:40]
        if base:
            break
    else:
        base = "group"  # no letter or digit at all: emoji, punctuation
    rule_id, number = f"draft-{base}", 2
    while rule_id in taken:
        rule_id, number = f"draft-{base}-{number}", number + 1
    return rule_id


def _rule_toml(group: QuestionGroup, rule_id: str) -> str:
    """The group's most typical questions (each wording once) as the rule's examples, and an
    answer marked as a draft: the rule loads, with a warning, and answers no lead until the
    owner writes its answer."""
    examples = list(dict.fromkeys(" ".join(text.split())[:200] for text in group.texts))
    listed = ",\n".join(f"  {json.dumps(text, ensure_ascii=False)}" for text in examples[:10])
    language = group_language(group)
    return "\n".join(
        [
            "[[rule]]",
            f"id = {json.dumps(rule_id)}",
            f"# {group.count} unanswered",
            *([f'language = "{language}"'] if language else []),
            f"examples = [\n{listed},\n]",
            f"answer = {json.dumps(DRAFT_ANSWER)}",
        ]
    )


def group_language(group: QuestionGroup) -> str | None:
    """ "ru" or "en" when at least 80 % of the group's questions are written in it (Russian in
    Latin letters counts as Russian): its draft then answers that language only, as the
    answer the owner writes will be in it. None for a group in both."""
    languages = Counter(language_told(fold(normalise(text))) for text in group.texts)
    language, count = languages.most_common(1)[0] if languages else (None, 0)
    return language if language and count >= 0.8 * len(group.texts) else None
