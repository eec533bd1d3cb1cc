"""Grouping unanswered questions, in English and Russian, and drafting rules for them."""

from __future__ import annotations

import tomllib
import tracemalloc
from pathlib import Path

from app.grouping import QuestionGroup, draft_rule, draft_rules, group_questions
from app.insight.replay import with_draft
from app.rules import load_rules
from app.rules.warnings import rule_warnings
from app.similarity import meaning_vectors
from app.similarity.batch import code_of, gram_codes
from app.similarity.measure import grams, words_of

QUESTIONS = [
    "Do you have a student discount?",
    "is there a discount for students",
    "Student discount available?",
    "discount for students please",
    "What is your refund policy?",
    "refund policy?",
    "How do I get a refund",
    "Есть ли скидка для студентов?",
    "скидки студентам есть?",
    "студенческая скидка",
    "Можно ли оплатить картой?",
    "оплата картой возможна?",
    "the app crashes when I open settings",
]


def test_questions_in_other_words_or_order_fall_into_one_group() -> None:
    groups = group_questions(QUESTIONS)
    by_example = {g.example: g for g in groups}
    sizes = sorted((g.count for g in groups), reverse=True)
    assert sizes[:2] == [4, 3]
    english_discount = next(g for g in groups if "Student discount available?" in g.texts)
    assert english_discount.count == 4
    assert set(english_discount.words) >= {"discount"}
    refund = next(g for g in groups if "refund policy?" in g.texts)
    assert refund.count == 3
    russian_discount = next(g for g in groups if "студенческая скидка" in g.texts)
    assert russian_discount.count == 3
    card = next(g for g in groups if "оплата картой возможна?" in g.texts)
    assert card.count == 2
    assert by_example["the app crashes when I open settings"].count == 1


def test_the_owners_teapot_questions_fall_into_one_group() -> None:
    asked = ["у вас есть чайники?", "Чайники продаете?", "есть чайник для пуэра?"]
    groups = group_questions([*asked, "Где мой заказ?", "заказ не пришел", "hello"])
    assert sorted(groups[0].texts) == sorted(asked)


def test_texts_are_kept_as_written_and_the_most_typical_comes_first() -> None:
    groups = group_questions(["Где мой заказ?", "ГДЕ МОЙ ЗАКАЗ?", "где мой заказ", "Ёлка есть?"])
    orders = next(g for g in groups if g.count == 3)
    assert set(orders.texts) == {"Где мой заказ?", "ГДЕ МОЙ ЗАКАЗ?", "где мой заказ"}
    assert any(g.texts == ("Ёлка есть?",) for g in groups)


def test_a_drafted_rule_has_the_groups_questions_as_examples_and_a_marked_answer() -> None:
    group = next(g for g in group_questions(QUESTIONS) if g.count == 4)
    first = tomllib.loads(draft_rule(group))["rule"][0]["id"]
    rule = tomllib.loads(draft_rule(group, taken_ids={first}))["rule"][0]
    assert first.startswith("draft-discount") and rule["id"] == f"{first}-2"
    assert sorted(rule["examples"]) == sorted(group.texts)
    assert "phrases" not in rule
    assert rule["answer"].startswith("[draft]")


def test_a_pasted_russian_draft_loads_warns_and_answers_no_lead_until_written(
    tmp_path: Path,
) -> None:
    asked = ["у вас есть чайники?", "Чайники продаете?", "есть чайник для пуэра?"]
    draft = draft_rules(group_questions(asked))
    assert 'id = "draft-chayniki' in draft
    (tmp_path / "draft.toml").write_text(draft, encoding="utf-8")
    rules = load_rules(tmp_path)
    assert [rule.id for rule in rules.rules if rule.draft] == [rules.rules[0].id]
    assert rules.match("а чайники у вас есть?") is None
    assert any("is a draft" in warning for warning in rule_warnings(rules))
    written = draft.replace("[draft] Write the answer here, then remove this mark.", "Есть!")
    (tmp_path / "draft.toml").write_text(written, encoding="utf-8")
    found = load_rules(tmp_path).match("а чайники у вас есть?")
    assert found is not None and found.rule.id.startswith("draft-chayniki")


def test_a_draft_counts_when_replayed(tmp_path: Path) -> None:
    (tmp_path / "current").mkdir()
    (tmp_path / "current" / "rules.toml").write_text(
        '[[rule]]\nid = "hi"\nphrases = ["hello"]\nanswer = "Hi!"\n', encoding="utf-8"
    )
    (tmp_path / "draft").mkdir()
    (tmp_path / "draft" / "draft.toml").write_text(
        draft_rules(group_questions(["у вас есть чайники?", "Чайники продаете?"])),
        encoding="utf-8",
    )
    replayed = with_draft(load_rules(tmp_path / "current"), tmp_path / "draft")
    found = replayed.match("чайники есть?")
    assert found is not None and found.rule.draft


def test_a_draft_answers_its_questions_language_and_is_named_by_its_words() -> None:
    russian = group_questions(["сколько стоит чистка?", "skolko stoit chistka", "чистка цена?"])
    assert len(russian) == 1  # Russian in Latin letters groups with the Cyrillic questions
    drafted = tomllib.loads(draft_rules(russian))["rule"][0]
    assert drafted["language"] == "ru" and drafted["id"].startswith("draft-chistka")
    # Only stopwords: named by the words themselves, never "draft-question".
    english = tomllib.loads(draft_rules(group_questions(["how much?", "How much??"])))["rule"][0]
    assert (english["language"], english["id"]) == ("en", "draft-how-much")
    both = QuestionGroup(4, "price?", ("price",), ("price?", "цена?", "price", "сколько?"))
    assert "language" not in tomllib.loads(draft_rule(both))["rule"][0]


def test_a_group_shows_its_least_typical_questions_beside_the_example() -> None:
    group = group_questions(
        ["Где мой заказ?", "где мой заказ", "мой заказ где", "где же мой заказ"]
    )
    assert len(group) == 1 and len(group[0].farthest) == 2
    assert group[0].example not in group[0].farthest


def test_quotes_and_markup_in_an_example_stay_inside_the_toml_string() -> None:
    group = group_questions(['He said "hi" \\ and <b>left</b> """'])[0]
    assert tomllib.loads(draft_rule(group))["rule"][0]["id"].startswith("draft-")


def test_grouping_grows_near_linearly() -> None:
    """16 times the questions must cost well under 16² times the time (all-pairs was)."""
    import random
    import time

    words = [f"w{n}" for n in range(3000)]

    def questions(count: int) -> list[str]:
        rng = random.Random(count)
        return [" ".join(rng.sample(words, 4)) + " please" for _ in range(count)]

    def seconds(texts: list[str]) -> float:
        best = float("inf")
        for _ in range(2):  # the better of two: a busy machine slows single runs
            started = time.perf_counter()
            group_questions(texts)
            best = min(best, time.perf_counter() - started)
        return best

    small, large = questions(500), questions(8000)
    seconds(small)  # warm the stem cache for a fair first run
    assert seconds(large) < 100 * seconds(small)  # linear: 16x; all-pairs: 256x


def test_grouping_work_per_text_is_bounded_whatever_leads_send() -> None:
    """300 messages of 1,000 letters of an unusual script (each letter several byte tokens):
    each is read to its bound, so grouping them takes little memory (it took 900 MB)."""
    meaning_vectors(["a first question"])  # the model, loaded once per process, aside
    letters = "".join(chr(0x10400 + (n * 7) % 80) if n % 6 else " " for n in range(1000))
    texts = [letters[n:] + letters[:n] for n in range(300)]
    tracemalloc.start()
    try:
        groups = group_questions(texts)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(group.count for group in groups) == 300
    assert peak < 100 * 2**20


def test_grouping_cuts_the_n_grams_matching_cuts() -> None:
    """Grouping's n-grams, cut for thousands of texts at once with array operations, are those
    `grams` cuts for one message (short words whole, as " ab "), weighed by the same IDF."""
    texts = ["сколько стоит чистка зубов", "do you ship to uk", "a", "ab cd efghij", "цена 100 р"]
    joined = [" ".join(words_of(text)) for text in texts]
    codes, owners = gram_codes(joined)
    grouped, grouped_owners = gram_codes(joined, short_words=False)
    for number, text in enumerate(joined):
        cut = {int(code) for code, owner in zip(codes, owners, strict=True) if owner == number}
        assert cut == {code_of(gram) for gram in grams(text)}
        # Grouping leaves out whole words of one to three letters (" to "), nothing else.
        kept = {int(c) for c, owner in zip(grouped, grouped_owners, strict=True) if owner == number}
        whole = {code_of(g) for g in grams(text) if g[0] == g[-1] == " "}
        assert kept == cut - whole
