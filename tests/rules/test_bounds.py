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
from tests.conftest import write_rules

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
    ],
)
def test_a_pattern_or_file_too_deep_or_too_big_to_compile_is_a_file_line_error(
    tmp_path: Path, text: str, said: str
) -> None:
    assert said in problems_of(tmp_path, text)


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
    messages = [(time.time(), "no_match", None, False, f"hello {n}", "") for n in range(50)]
    whole = replay(load_rules(tmp_path), messages, seconds=60)
    assert whole.cut_off_of is None and whole.messages == 50
    cut = replay(load_rules(tmp_path), messages, seconds=0)
    assert cut.cut_off_of == 50 and cut.messages < 50
