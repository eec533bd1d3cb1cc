"""Rules that match by example questions (docs/rules.md; docs/contract.md, rule order): the
nearest rule answers when it is near enough; otherwise the fallback does. Real model files, real
rule files."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from pytest_httpserver import HTTPServer

from app.cli import rules_group
from app.rules import RulesError, load_rules
from app.rules.examples import DEFAULT_THRESHOLD, HIGHEST_THRESHOLD, LOWEST_THRESHOLD
from app.runtime import runtime_of
from app.similarity import model_folder
from tests.helpers import (
    API_TOKEN,
    answering_rule,
    api_calls,
    lead_part,
    webhook_form,
    write_rules,
)

SHOP = """
[[rule]]
id = "abroad"
examples = [
  "Доставляете в Беларусь?",
  "Отправляете ли вы в Казахстан?",
  "есть доставка за границу?",
  "я живу в Германии, отправите?",
  "международная доставка есть?",
]
answer = "Да, отправляем в страны СНГ и Европы."

[[rule]]
id = "tracking"
examples = [
  "Where is my order?",
  "has my order shipped yet",
  "my order hasn't arrived",
  "can I get a tracking number",
  "when will my parcel be delivered",
]
answer = "Send us your order number and we will check."

[[rule]]
id = "greeting"
phrases = ["здравствуйте", "hello"]
answer = "Здравствуйте!"

[[rule]]
id = "later"
fallback = true
answer = "An operator will answer soon."
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    write_rules(tmp_path / "rules", SHOP)
    return tmp_path / "rules"


def test_a_paraphrase_gets_the_rule_with_the_nearest_examples(shop: Path) -> None:
    rules = load_rules(shop)
    belarus = rules.match("Доставляете в Минск?")
    package = rules.match("where is my parcel")
    assert belarus is not None and belarus.rule.id == "abroad" and belarus.how == "example"
    assert "nearest example 'Доставляете в Беларусь?'" in belarus.matched
    assert package is not None and package.rule.id == "tracking"


def test_a_message_near_no_rule_is_left_to_the_fallback(shop: Path) -> None:
    rules = load_rules(shop)
    assert rules.match("какая у вас погода сегодня?") is None
    assert rules.match("can you recommend a good movie") is None


def test_a_greeting_before_the_question_does_not_dilute_it(shop: Path) -> None:
    found = load_rules(shop).match("Здравствуйте! Отправляете в Казахстан?")
    assert found is not None and found.rule.id == "abroad"


def test_thresholds_take_the_rule_first_then_the_setting_then_calibration(
    tmp_path: Path, shop: Path
) -> None:
    assert load_rules(shop).examples.thresholds[0] == DEFAULT_THRESHOLD  # two rules: default
    assert load_rules(shop, None, 0.95).match("Доставляете в Минск?") is None
    strict = SHOP.replace('id = "abroad"\n', 'id = "abroad"\nmin_similarity = 0.99\n')
    write_rules(tmp_path / "strict", strict)
    assert load_rules(tmp_path / "strict").match("Доставляете в Минск?") is None
    lenient = SHOP.replace('id = "abroad"\n', 'id = "abroad"\nmin_similarity = 0.1\n')
    write_rules(tmp_path / "lenient", lenient)
    found = load_rules(tmp_path / "lenient", None, 0.95).match("Доставляете в Минск?")
    assert found is not None and found.rule.id == "abroad"


def test_calibration_lands_within_its_bounds_on_a_larger_set(tmp_path: Path) -> None:
    """Enough examples (100 or more) to calibrate on: the owner's own examples, held out."""
    tables = []
    for number, topic in enumerate(["delivery", "refund", "warranty", "price", "stock"]):
        words = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
        examples = [f"question {word} about {topic}" for word in words]
        examples += [f"{topic} {word} please help" for word in words]
        tables.append(f'[[rule]]\nid = "r{number}"\nexamples = {examples!r}\nanswer = "a"\n')
    write_rules(tmp_path / "rules", "\n".join(tables).replace("'", '"'))
    calibrated = load_rules(tmp_path / "rules").examples.calibrated
    assert LOWEST_THRESHOLD <= calibrated <= HIGHEST_THRESHOLD
    assert calibrated != DEFAULT_THRESHOLD


def test_a_phrase_comes_before_an_example_of_the_same_priority_not_a_higher_one(
    tmp_path: Path,
) -> None:
    rules = """
[[rule]]
id = "free"
examples = ["доставка бесплатная?", "доставка платная?", "за доставку платить надо?"]
answer = "Бесплатно от 3000."
{priority}

[[rule]]
id = "delivery"
phrases = ["доставка"]
answer = "Доставляем за 1-3 дня."
"""
    write_rules(tmp_path / "same", rules.format(priority=""))
    write_rules(tmp_path / "higher", rules.format(priority="priority = 1"))
    text = "А доставка бесплатная?"
    assert load_rules(tmp_path / "same").match(text).rule.id == "delivery"
    assert load_rules(tmp_path / "higher").match(text).rule.id == "free"


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('examples = "where is my order"', "'examples' must be a list of strings"),
        ('examples = ["?!"]', "example '?!' has no words"),
        ('examples = ["a b"]\nmin_similarity = 1.5', "'min_similarity' must be a number from 0"),
        ('phrases = ["x"]\nmin_similarity = 0.5', "'min_similarity' needs 'examples' beside it"),
        ('fallback = true\nexamples = ["a b"]', "remove its phrases/patterns/examples"),
    ],
)
def test_mistakes_in_examples_are_file_line_errors(
    tmp_path: Path, table: str, problem: str
) -> None:
    write_rules(tmp_path, f'[[rule]]\nid = "x"\nanswer = "b"\n{table}\n')
    with pytest.raises(RulesError) as raised:
        load_rules(tmp_path)
    assert "rules.toml:" in str(raised.value) and problem in str(raised.value)


def test_rules_try_shows_the_confidence_the_nearest_example_and_the_thresholds(
    shop: Path, sqlite_url: str
) -> None:
    runner = CliRunner(env={"RULES_DIR": str(shop), "DATABASE_URL": sqlite_url})
    found = runner.invoke(rules_group, ["try", "Доставляете в Минск?"]).output
    assert "rule: abroad" in found
    assert "examples: abroad, confidence 0." in found
    assert "(threshold 0.08), nearest example 'Доставляете в Беларусь?', similarity 0." in found
    assert "(floor 0.15) (reached)" in found
    missed = runner.invoke(rules_group, ["try", "какая погода"]).output
    assert "rule: later (fallback" in missed and "(not confident enough)" in missed


def test_rules_check_warns_about_an_example_the_decision_gives_another_rule(
    tmp_path: Path, sqlite_url: str
) -> None:
    confused = SHOP.replace('"международная доставка есть?",', '"where is my order please",')
    write_rules(tmp_path, confused)
    result = CliRunner(env={"DATABASE_URL": sqlite_url}).invoke(
        rules_group, ["check", str(tmp_path)]
    )
    assert result.exit_code == 0
    assert (
        "rules.toml:2: warning: rule 'abroad': example 'where is my order please' would get "
        "rule 'tracking'"
    ) in result.output


def test_the_webhook_answers_by_example_and_falls_back_when_nothing_is_near(
    make_app: Callable[..., Flask], dashly_api: HTTPServer, shop: Path
) -> None:
    app = make_app(
        RULES_DIR=str(shop), DASHLY_API_TOKEN=API_TOKEN, DASHLY_API_URL=dashly_api.url_for("/")
    )
    client = app.test_client()
    near = client.post("/webhooks/dashly", data=webhook_form(lead_part("where is my parcel")))
    far = client.post(
        "/webhooks/dashly",
        data=webhook_form(lead_part("do you sell bicycles", part_id=1002, conversation=502)),
    )
    assert near.get_json() == {"status": "replied"} and far.get_json() == {"status": "replied"}
    runtime_of(app).stop_background(drain_seconds=5)
    bodies = sorted(request.form["body"] for request in api_calls(dashly_api))
    assert bodies == [
        "An operator will answer soon.",
        "Send us your order number and we will check.",
    ]


def test_the_model_is_read_from_the_installed_files_and_nothing_is_written_there(
    shop: Path,
) -> None:
    folder = model_folder()
    before = sorted(p.relative_to(folder) for p in folder.rglob("*") if "__pycache__" not in str(p))
    load_rules(shop).match("where is my parcel")
    after = sorted(p.relative_to(folder) for p in folder.rglob("*") if "__pycache__" not in str(p))
    assert after == before
    # Its own loader (and the downloader it would bring) is never imported.
    assert "wordllama" not in sys.modules


CLINIC = """
[[rule]]
id = "whitening-price"
examples = ["сколько стоит отбеливание", "цена отбеливания зубов", "почём отбелить зубы",
  "стоимость отбеливания", "отбеливание зубов сколько стоит у вас"]
answer = "Отбеливание: 15 000 ₽."

[[rule]]
id = "filling-price"
examples = ["сколько стоит пломба", "цена пломбы", "почём поставить пломбу",
  "стоимость лечения кариеса", "сколько стоит вылечить зуб"]
answer = "Пломба: от 4 000 ₽."

[[rule]]
id = "extraction-price"
examples = ["сколько стоит удаление зуба", "цена удаления зуба", "почём вырвать зуб",
  "стоимость удаления зуба мудрости", "удалить зуб сколько стоит"]
answer = "Удаление: от 3 000 ₽."

[[rule]]
id = "hours"
examples = ["когда вы работаете", "часы работы", "до скольки открыты",
  "вы работаете в субботу", "во сколько открываетесь"]
answer = "Пн-сб 9:00-20:00."
"""


@pytest.mark.parametrize(
    ("message", "meant"),
    [
        ("сколько будет стоить удалить зуб", "extraction-price"),
        ("у меня дырка в зубе, сколько будет стоить пломба", "filling-price"),
        ("сколько стоит отбелить зубы", "whitening-price"),
    ],
)
def test_shared_stock_words_do_not_decide_the_rule(
    tmp_path: Path, message: str, meant: str
) -> None:
    """Every price rule says "сколько стоит": the word that differs decides."""
    assert answering_rule(tmp_path / "rules", CLINIC, message) == meant


def test_a_question_no_rule_covers_gets_no_example_match(tmp_path: Path) -> None:
    write_rules(tmp_path / "rules", CLINIC)
    rules = load_rules(tmp_path / "rules")
    for message in ("какая завтра погода в москве", "продаёте ли вы велосипеды"):
        assert rules.match(message) is None


def test_the_same_files_give_the_same_decision(tmp_path: Path) -> None:
    """Every worker, `rules try` and replay load the rules on their own: one decision."""
    write_rules(tmp_path / "rules", CLINIC)
    first, second = load_rules(tmp_path / "rules"), load_rules(tmp_path / "rules")
    assert first.examples is not None and second.examples is not None
    assert first.examples.weights.tobytes() == second.examples.weights.tobytes()
    assert first.examples.calibrated == second.examples.calibrated


def test_more_examples_than_supported_are_refused_with_the_rule_before_training(
    tmp_path: Path,
) -> None:
    from app.rules.examples import MAX_EXAMPLES

    per_rule = 1000
    tables = [
        f'[[rule]]\nid = "r{n}"\nanswer = "a"\n'
        f"examples = {[f'question {n} number {i}' for i in range(per_rule)]!r}\n".replace("'", '"')
        for n in range(MAX_EXAMPLES // per_rule + 1)
    ]
    write_rules(tmp_path / "rules", "\n".join(tables))
    with pytest.raises(RulesError) as refused:
        load_rules(tmp_path / "rules")
    [problem] = refused.value.problems
    last = MAX_EXAMPLES // per_rule
    # The rule whose examples pass the limit, at its file:line.
    assert problem.startswith(f"{tmp_path / 'rules' / 'rules.toml'}:")
    assert f"rule 'r{last}'" in problem
    assert f"more than {MAX_EXAMPLES}" in problem


def test_a_confusion_warning_names_the_shared_words_and_the_ones_that_differ(
    tmp_path: Path, sqlite_url: str
) -> None:
    write_rules(
        tmp_path,
        '[[rule]]\nid = "whitening-price"\nanswer = "W"\nexamples = ["сколько стоит '
        'отбеливание", "цена отбеливания зубов", "почём отбелить зубы", "стоимость '
        'отбеливания", "сколько стоит пломба"]\n\n[[rule]]\nid = "filling-price"\nanswer = "F"\n'
        'examples = ["цена пломбы", "почём поставить пломбу", "стоимость лечения кариеса", '
        '"сколько стоит вылечить зуб", "пломба сколько стоит у вас"]\n',
    )
    result = CliRunner(env={"DATABASE_URL": sqlite_url}).invoke(
        rules_group, ["check", str(tmp_path)]
    )
    assert (
        "example 'сколько стоит пломба' would get rule 'filling-price'" in result.stderr
        and "both say 'сколько стоит пломба'; every word of it is in the examples of "
        "'filling-price': move it there, or reword it"
        in result.stderr
    )
    assert "both say 'сколько стоит'; add the words that differ ('вылечить'" in result.stderr
