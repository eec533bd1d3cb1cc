"""Rule files: loading, every validation error, normalisation and matching."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.rules import RulesError, load_rules
from tests.helpers import EXAMPLE_RULES, write_rules

NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def rules_from(tmp_path: Path, text: str):
    write_rules(tmp_path, text)
    return load_rules(tmp_path)


def problems_of(tmp_path: Path, text: str, name: str = "rules.toml") -> list[str]:
    write_rules(tmp_path, text, name)
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path)
    return caught.value.problems


def test_shipped_example_rules_load() -> None:
    rules = load_rules(EXAMPLE_RULES)
    assert len(rules) >= 10
    assert rules.match("Hello!").rule.id == "greeting"
    # The greeting yields to what the rest of the message asks.
    assert rules.match("Hello, how are you").rule.id == "how-are-you"
    assert rules.match("Сколько стоит доставка?").rule.id == "ceny"


def test_phrases_match_whole_words_in_any_case(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, '[[rule]]\nid = "p"\nphrases = ["price"]\nanswer = "P"\n')
    assert rules.match("PRICE there").rule.id == "p"
    assert rules.match("well, price!").rule.id == "p"
    assert rules.match("overprice") is None
    assert rules.match("priceless") is None


def test_phrases_match_the_other_forms_of_their_words(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        '[[rule]]\nid = "human"\nphrases = ["живой человек", "real person"]\nanswer = "H"\n'
        '[[rule]]\nid = "broken"\nphrases = ["разбит", "order"]\nanswer = "B"\n'
        '[[rule]]\nid = "free"\nphrases = ["бесплатная доставка"]\nanswer = "F"\n'
        '[[rule]]\nid = "as-written"\nphrases = ["ship"]\nexact = true\nanswer = "S"\n',
    )
    found = rules.match("позовите живого человека")
    assert (found.rule.id, found.how) == ("human", "word form")
    assert "живого человека" in found.matched or found.span == (9, 24)
    assert rules.match("two real persons").rule.id == "human"
    assert rules.match("Чайник пришёл разбитый").rule.id == "broken"
    assert rules.match("разбита чашка").rule.id == "broken"
    assert rules.match("I ordered twice").rule.id == "broken"
    assert rules.match("Есть бесплатную доставку?").rule.id == "free"
    # Word order still counts; a word of another stem is another word.
    assert rules.match("доставка бесплатная?") is None
    assert rules.match("a live person") is None
    # `exact = true`: as written, whole words only.
    assert rules.match("we ship").rule.id == "as-written"
    assert rules.match("shipped yesterday") is None
    assert rules.match("real person").how == "phrase"


def test_language_keeps_a_rule_to_messages_in_that_language(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        '[[rule]]\nid = "phone-en"\npatterns = [\'\\+\\d{5,}\']\nanswer = "E"\nlanguage = "en"\n'
        '[[rule]]\nid = "phone-ru"\npatterns = [\'\\+\\d{5,}\']\nanswer = "R"\nlanguage = "ru"\n'
        '[[rule]]\nid = "later-en"\nfallback = true\nanswer = "E"\nlanguage = ["en"]\n'
        '[[rule]]\nid = "later-ru"\nfallback = true\nanswer = "R"\nlanguage = "ru"\n',
    )
    assert rules.match("Мой телефон +79123456789").rule.id == "phone-ru"
    assert rules.match("My phone is +79123456789").rule.id == "phone-en"
    assert rules.match("+79123456789").rule.id == "phone-en"  # no letters: not ruled out
    assert [r.id for r in rules.active_fallbacks(None, "Где мой заказ? order 5")] == ["later-ru"]
    assert [r.id for r in rules.active_fallbacks(None, "Where is my order?")] == ["later-en"]


def test_small_talk_yields_to_the_question_beside_it(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        '[[rule]]\nid = "hi"\nphrases = ["hello", "здравствуйте"]\nanswer = "Hi"\n'
        '[[rule]]\nid = "thanks"\nphrases = ["thanks"]\nanswer = "T"\n'
        '[[rule]]\nid = "cards"\nphrases = ["credit card"]\nanswer = "C"\n'
        '[[rule]]\nid = "bulk"\nphrases = ["оптом"]\nanswer = "B"\n',
    )
    assert rules.match("Hello! Do you accept credit cards?").rule.id == "cards"
    assert rules.match("Здравствуйте! Хочу заказать оптом для кофейни").rule.id == "bulk"
    assert rules.match("Thanks! And credit cards?").rule.id == "cards"
    # Only small talk (filler words aside): the small-talk rule answers.
    assert rules.match("Hello there!").rule.id == "hi"
    assert rules.match("Thanks so much, bye").rule.id == "thanks"
    # A question no rule knows: nothing matches, and the fallback (a human) answers.
    assert rules.match("Hello! Do you have a shop in London?") is None


def test_a_higher_priority_keeps_the_small_talk_rule_first(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        '[[rule]]\nid = "hi"\nphrases = ["hello"]\nanswer = "Hi"\npriority = 5\n'
        '[[rule]]\nid = "cards"\nphrases = ["credit card"]\nanswer = "C"\n',
    )
    assert rules.match("Hello! Credit cards?").rule.id == "hi"
    assert rules.match("Hello! A shop in London?").rule.id == "hi"


def test_a_space_in_a_phrase_matches_any_run_of_spaces(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path, '[[rule]]\nid = "gm"\nphrases = ["good morning"]\nanswer = "Morning!"\n'
    )
    assert rules.match("good    morning").rule.id == "gm"
    assert rules.match("good\n morning").rule.id == "gm"
    assert rules.match("good, morning") is None
    assert rules.match("goodmorning") is None


def test_phrase_with_punctuation_is_literal(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path, '[[rule]]\nid = "cpp"\nphrases = ["c++", "a.b"]\nanswer = "C++!"\n'
    )
    assert rules.match("I write C++ daily").rule.id == "cpp"
    assert rules.match("axb") is None  # a dot in a phrase is not a wildcard
    assert rules.match("see a.b now").rule.id == "cpp"


def test_cyrillic_case_and_yo_are_folded(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        '[[rule]]\nid = "p"\nphrases = ["привет", "ёлка"]\nanswer = "Здравствуйте"\n',
    )
    assert rules.match("ПРИВЕТ!").rule.id == "p"
    assert rules.match("Купить ЁЛКУ").how == "word form"  # ёлку: a form of ёлка
    assert rules.match("Купить ёлочку") is None  # another word
    assert rules.match("ЕЛКА и ёлка").rule.id == "p"
    assert rules.match("ЁЛКА").rule.id == "p"


def test_full_case_folding_matches_sharp_s(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        '[[rule]]\nid = "street"\nphrases = ["straße"]\npatterns = [\'GROSS\']\nanswer = "ok"\n',
    )
    assert rules.match("STRASSE 5").rule.id == "street"
    assert rules.match("ist das groß?").rule.id == "street"


def test_text_is_normalised_before_matching(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, '[[rule]]\nid = "p"\nphrases = ["price list"]\nanswer = "Here"\n')
    assert rules.match("<p>Price</p><p>list</p>").rule.id == "p"
    assert rules.match("price&nbsp;list").rule.id == "p"
    assert rules.match("ｐｒｉｃｅ　ｌｉｓｔ").rule.id == "p"  # full-width letters: NFKC


def test_patterns_use_regex_module_v1_and_name_groups(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        "[[rule]]\nid = \"order\"\npatterns = ['order\\s+#?(?P<number>\\d+)']\n"
        'answer = "Looking at order {{ match.number }}"\n',
    )
    found = rules.match("Where is ORDER #12345?")
    assert found.rule.id == "order"
    assert found.groups == {"number": "12345"}
    assert found.rule.answers[0].render(found.groups) == "Looking at order 12345"


def test_priority_then_file_order_then_order_in_file(tmp_path: Path) -> None:
    write_rules(
        tmp_path,
        '[[rule]]\nid = "a-first"\nphrases = ["price"]\nanswer = "a"\n'
        '[[rule]]\nid = "a-second"\nphrases = ["price"]\nanswer = "b"\n',
        "a.toml",
    )
    write_rules(
        tmp_path,
        '[[rule]]\nid = "b-low"\nphrases = ["price"]\nanswer = "c"\n'
        '[[rule]]\nid = "b-high"\npatterns = ["price"]\nanswer = "d"\npriority = 5\n',
        "b.toml",
    )
    rules = load_rules(tmp_path)
    assert [m.rule.id for m in rules.iter_matches("price?")] == [
        "b-high",
        "a-first",
        "a-second",
        "b-low",
    ]
    assert rules.match("price").rule.id == "b-high"


def test_fallback_is_not_returned_by_match(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        '[[rule]]\nid = "hi"\nphrases = ["hi"]\nanswer = "Hi"\n'
        '[[rule]]\nid = "later"\nfallback = true\nanswer = "Soon"\n',
    )
    assert rules.match("something else") is None
    assert [r.id for r in rules.active_fallbacks(NOON)] == ["later"]


def test_a_leads_text_is_never_a_pattern_or_template(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        "[[rule]]\nid = \"echo\"\npatterns = ['say (?P<what>.+)']\n"
        'answer = "You said: {{ match.what }}"\n',
    )
    found = rules.match("say {{ 7*7 }} (.*)+ <b>bold</b>")
    assert found.rule.answers[0].render(found.groups) == "You said: {{ 7*7 }} (.*)+ bold"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "b"\nanswr = "c"\n',
            "rules.toml:5: rule 'x': unknown key 'answr' (did you mean 'answer'?)",
        ),
        (
            '[[rule]]\nphrases = ["a"]\nanswer = "b"\n',
            "rules.toml:1: rule without id: 'id' is required",
        ),
        (
            '[[rule]]\nid = "bad id!"\nphrases = ["a"]\nanswer = "b"\n',
            "rules.toml:2: rule 'bad id!': 'id' must be 1-64 Latin letters, digits, - or _",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = "hello"\nanswer = "b"\n',
            "rules.toml:3: rule 'x': 'phrases' must be a list of strings",
        ),
        (
            '[[rule]]\nid = "x"\npatterns = [\'(unclosed\']\nanswer = "b"\n',
            "rules.toml:3: rule 'x': pattern '(unclosed' is not a valid regular expression",
        ),
        (
            '[[rule]]\nid = "x"\npatterns = [\'a*\']\nanswer = "b"\n',
            "rules.toml:3: rule 'x': pattern 'a*' matches the empty string",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "  "\n',
            "rules.toml:4: rule 'x': an answer must not be empty",
        ),
        ('[[rule]]\nid = "x"\nphrases = ["a"]\n', "rules.toml:1: rule 'x': needs exactly one of"),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "b"\nanswers = ["c"]\n',
            "rules.toml:1: rule 'x': needs exactly one of 'answer' or 'answers'",
        ),
        (
            '[[rule]]\nid = "x"\nanswer = "b"\n',
            "rules.toml:1: rule 'x': needs 'phrases', 'patterns' or 'examples'",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "b"\npriority = "high"\n',
            "rules.toml:5: rule 'x': 'priority' must be a whole number",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "b"\nrepeat = "yes"\n',
            "rules.toml:5: rule 'x': 'repeat' must be true or false",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "Hi {{ lead.name "\n',
            "rules.toml:4: rule 'x': answer template:",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "Hi {{ user.name }}"\n',
            "rules.toml:4: rule 'x': unknown placeholder user",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "b"\n'
            '[[rule]]\nid = "x"\nphrases = ["c"]\nanswer = "d"\n',
            "rules.toml:5: rule 'x': duplicate id, first defined at",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"\nanswer = "b"\n',
            "rules.toml:4: TOML syntax: Unclosed array",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "b"\ntypos = 3\n',
            "rules.toml:5: rule 'x': 'typos' must be 0, 1 or 2",
        ),
        (
            'title = "faq"\n[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "b"\n',
            "rules.toml:1: unknown top-level key 'title'",
        ),
        (
            '[[rule]]\nid = "x"\nfallback = true\nphrases = ["a"]\nanswer = "b"\n',
            "rules.toml:3: rule 'x': a fallback rule answers anything",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "b"\nassign = 7\nclose = true\n',
            "rules.toml:6: rule 'x': 'close' and 'assign' exclude each other",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "b"\nnote = "{{ mesage }}"\n',
            "rules.toml:5: rule 'x': 'note': unknown placeholder mesage; use lead.name, "
            "match.NAME or message",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "b"\nlanguage = "de"\n',
            "rules.toml:5: rule 'x': 'language' must be 'ru' or 'en' or a list of them",
        ),
        (
            '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "Asked: {{ message }}"\n',
            "rules.toml:4: rule 'x': unknown placeholder message; use lead.name or match.NAME",
        ),
    ],
)
def test_each_problem_names_file_line_rule_and_what_is_wrong(
    tmp_path: Path, text: str, expected: str
) -> None:
    problems = problems_of(tmp_path, text)
    assert any(p.startswith(f"{tmp_path}/{expected}") for p in problems), problems


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    write_rules(tmp_path, '[[rule]]\nid = "a"\nphrases = ["x"]\nanswer = 5\n', "1.toml")
    write_rules(tmp_path, '[[rule]]\nid = "b"\npatterns = [\'(\']\nanswer = "y"\n', "2.toml")
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path)
    assert len(caught.value.problems) == 2
    assert str(caught.value).count("\n") == 1


def test_a_missing_or_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="rules folder not found"):
        load_rules(tmp_path / "nope")
    with pytest.raises(RulesError, match=r"no \*.toml rule files"):
        load_rules(tmp_path)


def test_typos_allow_letters_added_dropped_or_changed(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        '[[rule]]\nid = "d"\nphrases = ["delivery", "good morning", "hi"]\nanswer = "x"\n'
        "typos = 1\n",
    )
    for text in ("delivry?", "deliverry", "delivary", "DELIVERY", "good mornin"):
        assert rules.match(text) is not None, text
    assert rules.match("dleivery") is None  # a swap is two typos
    assert rules.match("hj") is None  # under five letters: exact only


def test_two_typos_and_never_inside_another_word(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path, '[[rule]]\nid = "d"\nphrases = ["delivery"]\nanswer = "x"\ntypos = 2\n'
    )
    assert rules.match("dleivery").rule.id == "d"
    assert rules.match("redelivery") is None
    assert rules.match("deliveryman") is None
    assert rules.match("nodelivery please") is None


def test_pattern_time_limit_skips_the_rule_and_names_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = rules_from(
        tmp_path,
        '[[rule]]\nid = "slow"\npatterns = [\'(x+x+)+y\']\nanswer = "never"\n'
        '[[rule]]\nid = "fine"\nphrases = ["xxx"]\nanswer = "ok"\n',
    )
    caplog.set_level(logging.WARNING, logger="app")
    # Without the limit this search runs for hours; cut, the rule after it still answers.
    found = rules.match("xxx " + "x" * 3000)
    assert found is not None and found.rule.id == "fine"
    assert "event=pattern_timeout rule=slow" in caplog.text


def test_a_rule_outside_its_hours_costs_no_pattern_search(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = rules_from(
        tmp_path,
        '[[rule]]\nid = "night"\npatterns = [\'(x+x+)+y\']\nhours = "daily 22:00-06:00"\n'
        'answer = "never"\n',
    )
    caplog.set_level(logging.WARNING, logger="app")
    noon = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert rules.match("x" * 5000, noon) is None
    assert "pattern_timeout" not in caplog.text  # asleep: its slow pattern was never tried
    assert rules.match("x" * 5000, noon.replace(hour=23)) is None
    assert "event=pattern_timeout rule=night" in caplog.text


def test_a_pattern_is_not_searched_on_a_text_without_its_mark(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = rules_from(
        tmp_path, '[[rule]]\nid = "slow"\npatterns = [\'(x+x+)+y@\']\nanswer = "a"\n'
    )
    caplog.set_level(logging.WARNING, logger="app")
    assert rules.match("x" * 3000) is None
    assert "pattern_timeout" not in caplog.text  # no "@" in the text: no search was run
    assert rules.match("x" * 3000 + "@") is None
    assert "event=pattern_timeout rule=slow" in caplog.text


def test_a_pattern_with_an_octal_escape_matches(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path, '[[rule]]\nid = "octal"\npatterns = [\'\\101bcd\']\nanswer = "a"\n'
    )
    found = rules.match("abcd")  # \101 is "A", in any case; "01bcd" is not what it needs
    assert found is not None and found.rule.id == "octal"
