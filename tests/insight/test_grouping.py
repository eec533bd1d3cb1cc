"""Grouping unanswered questions, in English and Russian, and drafting rules for them."""

from __future__ import annotations

import tomllib

from app.grouping import draft_rule, group_questions

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


def test_a_drafted_rule_is_valid_toml_with_the_groups_words() -> None:
    group = next(g for g in group_questions(QUESTIONS) if g.count == 4)
    draft = draft_rule(group, taken_ids={"draft-discount-student"})
    rule = tomllib.loads(draft)["rule"][0]
    assert rule["id"].startswith("draft-")
    assert rule["id"] != "draft-discount-student"
    assert "discount" in rule["phrases"]
    assert rule["answer"]


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
