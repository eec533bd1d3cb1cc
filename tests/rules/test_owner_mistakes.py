"""The mistakes owners make writing rules: each gets a message naming the spot and the fix, an
error (the rules don't load) or a warning (they load)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.rules import RulesError, load_rules
from app.rules.hours import parse_hours
from app.rules.warnings import rule_warnings
from tests.helpers import write_rules


def problems_of(tmp_path: Path, text: str) -> str:
    write_rules(tmp_path, text)
    with pytest.raises(RulesError) as raised:
        load_rules(tmp_path)
    return str(raised.value)


def warnings_of(tmp_path: Path, text: str) -> list[str]:
    write_rules(tmp_path, text)
    return rule_warnings(load_rules(tmp_path))


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        (
            'phrases = ["hi"]\nanswer = "Hi {{ lead.nmae }}"',
            "rules.toml:4: rule 'x': unknown placeholder lead.nmae (did you mean lead.name?)",
        ),
        (
            "patterns = ['order (?P<number>\\d+)']\nanswer = \"No. {{ match.nomer }}\"",
            "rules.toml:4: rule 'x': {{ match.nomer }}: no pattern of this rule has a group "
            "named 'nomer' (its patterns' groups: number)",
        ),
        (
            'patterns = ["\\bпрайс"]\nanswer = "b"',
            "rules.toml:3: rule 'x': pattern '\\x08прайс' holds a backspace or form feed: in "
            "double quotes TOML reads \\b as a backspace; write patterns in single quotes",
        ),
    ],
)
def test_a_placeholder_or_pattern_that_can_never_work_is_an_error(
    tmp_path: Path, rule: str, said: str
) -> None:
    assert said in problems_of(tmp_path, f'[[rule]]\nid = "x"\n{rule}\n')


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            '[[rule]]\nid = "x"\npatterns = ["\\s+заказ"]\nanswer = "b"\n',
            "rules.toml:3: a backslash in double quotes starts an escape",
        ),
        (
            '[rule]\nid = "x"\nanswer = "a"\n[rule]\nid = "y"\nanswer = "b"\n',
            "rules.toml:4: [rule] appears twice: write every rule as [[rule]], with two brackets",
        ),
        (
            '[[rule]]\nid = \u201cx\u201d\nanswer = "a"\n',
            "rules.toml:2: '\u201c' is a typographic quote: TOML strings need straight quotes",
        ),
        (
            '[[rule]]\nid = "x\nanswer = "a"\n',
            "rules.toml:2: a string is not closed on its line: add the closing quote",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "Hello,\nwe open at 9"\n',
            "rules.toml:4: a string is not closed on its line: add the closing quote (an answer "
            'of several lines goes in triple quotes: answer = """...""")',
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "b"\ntimezone = "Moscow"\n',
            "rules.toml:5: rule 'x': timezone 'Moscow' is not a known IANA name; did you mean "
            "'Europe/Moscow'?",
        ),
        (
            '[[rule]]\nid = "x"\nanswer = "a"\nanswer = "b"\n',
            "rules.toml:4: a key is set twice in one rule: keep one",
        ),
        (
            '[[rule]]\nid = "skidk\u0430"\nphrases = ["a"]\nanswer = "b"\n',
            "rule 'skidk\u0430': 'id' must be 1-64 Latin letters, digits, - or _: '\u0430' is "
            "not a Latin letter (CYRILLIC SMALL LETTER A)",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "b"\n'
            'hours = "mon-fri 10:00-19:00, sat 10:00-16:00"\n',
            'holds several ranges: write them as a list, ["mon-fri 10:00-19:00", '
            '"sat 10:00-16:00"]',
        ),
    ],
)
def test_toml_and_id_mistakes_are_said_in_plain_words_with_the_fix(
    tmp_path: Path, text: str, said: str
) -> None:
    assert said in problems_of(tmp_path, text)


def test_an_en_dash_in_hours_is_read_as_the_hyphen_meant() -> None:
    assert parse_hours("mon\u2013fri 10:00\u201319:00") == parse_hours("mon-fri 10:00-19:00")
    assert parse_hours("mon,wed 10:00-12:00")[0].days == frozenset({0, 2})


@pytest.mark.parametrize(
    ("rules", "said"),
    [
        (
            '[[rule]]\nid = "x"\nphrases = ["hi"]\nanswer = "Hi {name}!"\n',
            "rules.toml:1: warning: rule 'x': {name} in an answer is sent as written; did you "
            "mean {{ lead.name }}?",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["\u043fp\u0438\u0432\u0435\u0442", "заказ iPhone"]\n'
            'answer = "b"\n',
            "rules.toml:1: warning: rule 'x': '\u043fp\u0438\u0432\u0435\u0442' mixes Latin and "
            "Cyrillic letters (Latin 'p'); retype it in one alphabet",
        ),
        (
            '[[rule]]\nid = "price"\nphrases = ["цена, стоимость"]\nanswer = "b"\n',
            "rules.toml:1: warning: rule 'price': phrase 'цена, стоимость' has a comma inside "
            'its quotes; did you mean 2 phrases: ["цена", "стоимость"]?',
        ),
        (
            '[[rule]]\nid = "shipping"\nphrases = ["delivery"]\nanswer = "a"\n\n'
            '[[rule]]\nid = "express"\nphrases = ["express delivery"]\nanswer = "b"\n',
            "rules.toml:6: warning: rule 'express': phrase 'express delivery' holds 'delivery' "
            "of rule 'shipping'",
        ),
        (
            '[[rule]]\nid = "night"\nfallback = true\noutside_hours = "mon-fri 09:00-18:00"\n'
            'answer = "a"\n\n[[rule]]\nid = "day"\nfallback = true\nanswer = "b"\n',
            "rules.toml:7: warning: rule 'day': a fallback without hours also answers outside "
            "'night''s hours (the second unknown message at night gets it); give it hours = "
            '["mon-fri 09:00-18:00"]',
        ),
    ],
)
def test_rules_that_load_but_misbehave_get_a_warning(tmp_path: Path, rules: str, said: str) -> None:
    assert said in "\n".join(warnings_of(tmp_path, rules))


def test_a_word_of_one_alphabet_beside_another_is_no_mistake(tmp_path: Path) -> None:
    rules = '[[rule]]\nid = "x"\nphrases = ["заказ iPhone"]\nanswer = "Привет, {{ lead.name }}"\n'
    assert warnings_of(tmp_path, rules) == []
