"""Rules that cannot hang or exhaust a worker: runaway templates and patterns, nesting that
overflows a parser, pasted files of thousands of mistakes, and draft replays, each cut off with
a message saying so."""

from __future__ import annotations

import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.insight.replay import replay
from app.rules import RulesError, load_rules
from app.rules.live import LiveRules
from app.store import StoredMessage
from tests.helpers import write_rules

GOOD = '[[rule]]\nid = "hi"\nphrases = ["hello"]\nanswer = "Hi!"\n'


def problems_of(tmp_path: Path, text: str) -> str:
    write_rules(tmp_path, text)
    with pytest.raises(RulesError) as raised:
        load_rules(tmp_path)
    return str(raised.value)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("{{ 'x' * 200000000 }}", "answer template: a repeated text or list over 10000 long"),
        ("{{ range(10**9) | list }}", "answer template: a range over 1000 long"),
        (
            "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
            "x{% endfor %}{% endfor %}{% endfor %}",
            "answer template: took over 1 s",
        ),
        ("{{ 2 ** 100000000 }}", "answer template: a power over 64"),
        ("{{ 'x'|center(300000000) }}", "answer template: center: a number over 10000"),
        ("{{ 'x'|indent(300000000, true) }}", "answer template: indent: a number over 10000"),
        ("{{ '%300000000s'|format('x') }}", "answer template: format: a width over 10000"),
        ("{{ '{:>300000000}'.format(1) }}", "answer template: format: a width over 10000"),
        ("{{ 'x'.zfill(300000000) }}", "answer template: zfill: a number over 10000"),
        ("{{ [1]|batch(300000000, 0)|list }}", "answer template: batch: a number over 10000"),
        (
            "{{ ('x' * 10000)|replace('', 'y' * 10000) }}",
            "answer template: replace: a result over 10000 long",
        ),
        # Each list is short; printing them would touch 50 million items.
        ("{{ [[1] * 10000] * 5000 }}", "answer template: a repeated text or list over 10000"),
    ],
)
def test_a_runaway_answer_template_is_a_file_line_error(
    tmp_path: Path, answer: str, said: str
) -> None:
    text = f'[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "{answer}"\n'
    assert f"rules.toml:4: rule 'x': {said}" in problems_of(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "[[rule]]\nid = 'x'\npatterns = ['(?:x{0,4294967294}){4294967294}y']\nanswer = 'a'\n",
            "rules.toml:3: rule 'x': pattern '(?:x{0,4294967294}){4294967294}y': a repetition "
            "count over 1000 (4294967294); write + or * instead",
        ),
        (
            "[[rule]]\nid = 'x'\npatterns = ['" + "(?:" * 1200 + "x" + ")" * 1200 + "']\n"
            "answer = 'a'\n",
            "groups nested over 50 deep",
        ),
        ("a = " + "[" * 1500 + "]" * 1500 + "\n", "rules.toml:1: brackets or tables nested"),
        (
            # Each count is allowed; multiplied out they are 100 million.
            "[[rule]]\nid = 'x'\npatterns = ['(?:(?:x{1000}){1000}){100}y']\nanswer = 'a'\n",
            "rules.toml:3: rule 'x': pattern '(?:(?:x{1000}){1000}){100}y': counted repetitions "
            "that add up to over 20000 characters; write + or * instead",
        ),
        (
            # An escaped backslash, then a count: `\\{n}` repeats the backslash n times.
            "[[rule]]\nid = 'x'\npatterns = ['\\\\{4294967294}y']\nanswer = 'a'\n",
            "a repetition count over 1000 (4294967294)",
        ),
        (
            GOOD + "a" + ".a" * 20_000 + " = 1\n",
            "rules.toml:5: a dotted key of over 32 parts",
        ),
    ],
)
def test_a_pattern_or_file_too_deep_or_too_big_to_compile_is_a_file_line_error(
    tmp_path: Path, text: str, said: str
) -> None:
    assert said in problems_of(tmp_path, text)


@pytest.mark.parametrize(
    "answer",
    [
        "{{ 'Price: %5.2f'|format(9.5) }} {{ 'ok'|center(10) }} {{ 3.14159|round(2) }}",
        "{{ 'a-b'|replace('-', ' or ') }} {{ '{:>6}'.format('x') }} {{ 'Hi ' * 3 }}",
    ],
)
def test_templates_within_the_bounds_still_render(tmp_path: Path, answer: str) -> None:
    write_rules(tmp_path, f'[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "{answer}"\n')
    assert load_rules(tmp_path).match("a").rule.answers[0].render() != ""


def test_a_pattern_with_many_braces_that_are_no_repetitions_loads(tmp_path: Path) -> None:
    pattern = r"\\p{L}{2,}\\s[{]{3}\\{9999999\\}(?:\\d{1,3}[ -]?){4}"
    write_rules(tmp_path, f'[[rule]]\nid = "x"\npatterns = ["{pattern}"]\nanswer = "a"\n')
    assert load_rules(tmp_path).match("Ab {{{{9999999}1 2 3 4").rule.id == "x"


def test_thousands_of_unknown_keys_are_said_in_a_few_lines(tmp_path: Path) -> None:
    text = GOOD + "".join(f"key{number} = 1\n" for number in range(6000))
    problems = problems_of(tmp_path, text).splitlines()
    assert len(problems) == 11
    assert problems[-1].endswith("rule 'hi': and 5990 more unknown keys")


def test_a_reload_that_overflows_the_parser_keeps_the_last_good_rules(tmp_path: Path) -> None:
    write_rules(tmp_path, GOOD)
    live = LiveRules(tmp_path, ZoneInfo("UTC"), load_rules(tmp_path))
    time.sleep(0.01)
    write_rules(tmp_path, GOOD + "b = " + "[" * 1500 + "]" * 1500 + "\n")
    assert live.refresh() is False
    assert live.error is not None and "nested too deeply" in live.error
    assert live.current.match("hello").rule.id == "hi"


def test_a_replay_stops_at_its_deadline_and_says_how_far_it_got(tmp_path: Path) -> None:
    write_rules(tmp_path, GOOD)
    messages = [
        StoredMessage(time.time(), "no_match", None, False, f"hello {n}") for n in range(50)
    ]
    whole = replay(load_rules(tmp_path), messages, seconds=60)
    assert whole.cut_off_of is None and whole.messages == 50
    cut = replay(load_rules(tmp_path), messages, seconds=0)
    assert cut.cut_off_of == 50 and cut.messages < 50
