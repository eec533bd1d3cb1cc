"""The indexed matcher chooses exactly the rule the plain loop chooses (one regex per rule, in
rule order, first match wins), over generated rule sets with every kind of phrase and pattern."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.rules import load_rules
from bench.baselines import (
    PlainLoopMatcher,
    generate_messages,
    generate_rules,
    rules_toml,
    write_rule_files,
)
from tests.helpers import answering_rule, write_rules

EXTRA_PATTERNS = [
    r"colou?r\s+\w+",
    r"(?:ship|deliver)(?:ping|y)\b",
    r"order\s+#?(?P<number>\d{3,})",
    r"\b(?:когда|где)\s+заказ",
    r"почём",
    r"straße|gasse",
    r"[a-z]{4}\d{2}",
    r"^hello\b",
    r"thanks?$",
    r"(?i)PRICE\s*LIST",
    r"a{2,}rgh",
]
EXTRA_PHRASES = ["c++", "e-mail", "straße", "ёлка", "доставка", "good morning", "wi-fi", "naïve"]


def varied_rule_file(seed: int) -> str:
    """Rules with typos, hours, punctuation, Unicode and patterns the literal index must read."""
    rng = random.Random(seed)
    blocks = []
    for number in range(40):
        lines = ["[[rule]]", f'id = "x{number}"', 'answer = "a"']
        if rng.random() < 0.5:
            phrases = rng.sample(EXTRA_PHRASES, rng.randint(1, 2))
            lines.append("phrases = [" + ", ".join(f'"{p}"' for p in phrases) + "]")
            if rng.random() < 0.3:
                lines.append(f"typos = {rng.choice((1, 2))}")
        else:
            lines.append(f"patterns = ['{rng.choice(EXTRA_PATTERNS)}']")
        if rng.random() < 0.2:
            lines.append(f'hours = "{rng.choice(["mon-fri 09:00-18:00", "daily 22:00-06:00"])}"')
        if rng.random() < 0.3:
            lines.append(f"priority = {rng.randint(-2, 3)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


EXTRA_MESSAGES = [
    "What colour options? Color red please",
    "Shipping to Berlin, delivery by Friday?",
    "where is ORDER #12345",
    "Когда заказ приедет? ПОЧЕМ ёлка",
    "STRASSE 5, Hauptgasse",
    "code abcd12 please",
    "hello there",
    "ok thanks",
    "price   list?",
    "aaaargh",
    "I love C++ and e-mail and Wi-Fi, naive naïve",
    "good mornin, dostavka, dostavka",
    "<p>Straße</p>&nbsp;ЁЛКА",
    "deliverry of the elka",
]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_same_rule_as_the_plain_loop(tmp_path: Path, seed: int) -> None:
    generated = generate_rules(300, seed=seed, pattern_share=0.2)
    write_rule_files(generated, tmp_path, per_file=100)
    (tmp_path / "9999-varied.toml").write_text(varied_rule_file(seed), encoding="utf-8")
    rules = load_rules(tmp_path)
    plain = PlainLoopMatcher(rules)
    messages = generate_messages(generated, 200, seed=seed) + EXTRA_MESSAGES
    rng = random.Random(seed)
    moments = [datetime(2026, 11, 23 + rng.randrange(7), rng.randrange(24), tzinfo=UTC)]
    moments.append(datetime(2026, 11, 25, 12, tzinfo=UTC))
    chosen = 0
    for message in messages:
        for at in moments:
            found = rules.match(message, at)
            ours = found.rule.id if found else None
            assert ours == plain.match(message, at), (message, at)
            chosen += ours is not None
    assert chosen > len(messages) // 4  # the sets really match something


def test_the_generated_toml_loads_as_written(tmp_path: Path) -> None:
    generated = generate_rules(5, seed=9)
    (tmp_path / "r.toml").write_text(rules_toml(generated))
    assert [r.id for r in load_rules(tmp_path).rules] == [
        r.id for r in sorted(generated, key=lambda r: -r.priority)
    ]


BILINGUAL = """
[[rule]]
id = "perezvonit"
patterns = ['(?:\\+7|8)\\d{10}']
answer = "Спасибо! Перезвоним в течение часа."

[[rule]]
id = "call-back"
patterns = ['(?:\\+7|8)\\d{10}']
answer = "Thanks! We will call you back within the hour."

[[rule]]
id = "adres"
examples = ["какой у вас адрес", "где вы находитесь", "как вас найти"]
answer = "Москва, ул. Ленина, 1."

[[rule]]
id = "address"
examples = ["what is your address", "where are you located", "how do I find you"]
answer = "1 Lenin St, Moscow."
"""


@pytest.mark.parametrize(
    ("message", "meant"),
    [
        ("please call me back 89274561234", "call-back"),
        ("перезвоните мне 89274561234", "perezvonit"),
        ("what's your adress", "address"),
        ("где вы находитесь?", "adres"),
    ],
)
def test_of_the_rules_that_fit_the_one_in_the_leads_language_answers(
    tmp_path: Path, message: str, meant: str
) -> None:
    """Rules without `language` speak their answers' language: an English lead never gets
    the Russian answer when an English rule fits too, whatever the file order."""
    assert answering_rule(tmp_path / "rules", BILINGUAL, message) == meant


def test_a_higher_priority_still_wins_over_the_leads_language(tmp_path: Path) -> None:
    rules = BILINGUAL.replace('id = "perezvonit"\n', 'id = "perezvonit"\npriority = 1\n')
    assert (
        answering_rule(tmp_path / "rules", rules, "please call me back 89274561234") == "perezvonit"
    )


GREETED = """
[[rule]]
id = "privet"
phrases = ["привет", "здравствуйте"]
answer = "Здравствуйте! Чем помочь?"

[[rule]]
id = "hello"
phrases = ["hello", "hi"]
answer = "Hi! How can I help?"

[[rule]]
id = "dostavka"
phrases = ["доставка"]
answer = "Доставка 1-3 дня."
"""


@pytest.mark.parametrize(
    ("message", "meant"),
    [
        ("ПРИВЕТ! Есть кто?", "privet"),
        ("вы тут?", "privet"),
        ("можно вопрос?", "privet"),
        ("anyone there?", "hello"),
        ("can I ask something?", "hello"),
        ("Есть кто? Сколько стоит доставка?", "dostavka"),
    ],
)
def test_is_anyone_there_alone_gets_the_greeting_in_the_leads_language(
    tmp_path: Path, message: str, meant: str
) -> None:
    assert answering_rule(tmp_path / "rules", GREETED, message) == meant


def test_is_anyone_there_without_a_greeting_rule_is_left_to_the_fallback(tmp_path: Path) -> None:
    write_rules(
        tmp_path / "rules",
        GREETED.split('[[rule]]\nid = "dostavka"')[0]
        .replace('phrases = ["привет", "здравствуйте"]', 'phrases = ["цены"]')
        .replace('phrases = ["hello", "hi"]', 'phrases = ["prices"]'),
    )
    assert load_rules(tmp_path / "rules").match("вы тут?") is None


TRANSLIT = """
[[rule]]
id = "zapis"
phrases = ["записаться", "запишите"]
answer = "Записываем! Какое время удобно?"

[[rule]]
id = "chistka"
examples = ["сколько стоит чистка зубов", "цена профессиональной чистки", "почём чистка"]
answer = "Чистка: 5 000 ₽."

[[rule]]
id = "callback"
patterns = ['\\b8\\d{10}\\b']
answer = "Перезвоним!"

[[rule]]
id = "later"
fallback = true
answer = "Thanks! An operator will answer soon."

[[rule]]
id = "pozzhe"
fallback = true
answer = "Спасибо! Оператор скоро ответит."
"""


@pytest.mark.parametrize(
    ("message", "meant"),
    [
        ("zapishite menya na zavtra", "zapis"),
        ("skolko stoit chistka", "chistka"),
        ("skol'ko stoit chistka zubov?", "chistka"),
        ("pozhaluysta perezvonite 89274561234", "callback"),
    ],
)
def test_russian_in_latin_letters_is_matched_as_if_written_in_cyrillic(
    tmp_path: Path, message: str, meant: str
) -> None:
    assert answering_rule(tmp_path / "rules", TRANSLIT, message) == meant


def test_russian_in_latin_letters_gets_the_russian_fallback_and_english_the_english(
    tmp_path: Path,
) -> None:
    write_rules(tmp_path / "rules", TRANSLIT)
    rules = load_rules(tmp_path / "rules")
    assert next(rules.active_fallbacks(text="kak u vas dela segodnya")).id == "pozzhe"
    assert next(rules.active_fallbacks(text="what's your adress")).id == "later"
    assert next(rules.active_fallbacks(text="как дела")).id == "pozzhe"
