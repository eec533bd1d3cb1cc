"""`props`, `event`, `event_params` and `channels`: validated with file:line problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.rules import RulesError, load_rules
from app.rules.warnings import rule_warnings
from tests.helpers import write_rules

GOOD = """
[[rule]]
id = "contact"
patterns = ['(?P<email>\\S+@\\S+\\.\\w+)']
answer = "Thanks!"
props = { "$email" = "{{ match.email }}", "topic" = "contact" }
event = "bot: contact left"
event_params = { "via" = "{{ lead.name | default('') }}" }
channels = ["web_user", "telegram_bot"]
"""


def test_a_rule_with_lead_actions_loads(tmp_path: Path) -> None:
    write_rules(tmp_path, GOOD)
    rule = load_rules(tmp_path).rules[0]
    assert [name for name, _ in rule.props] == ["$email", "topic"]
    assert rule.event == "bot: contact left"
    assert rule.channels == frozenset({"web_user", "telegram_bot"})
    assert rule.answers_on("web_user") and not rule.answers_on("") and not rule.answers_on("api")


def test_a_channel_dashly_is_not_known_to_send_is_a_warning(tmp_path: Path) -> None:
    write_rules(tmp_path, GOOD)
    [warning] = rule_warnings(load_rules(tmp_path))
    assert "channel 'telegram_bot' is not one Dashly is known to send" in warning


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ('props = { "" = "x" }', "rules.toml:6: rule 'r': 'props': a name must have 1 to 255"),
        ('props = { "k" = "{{ match.x" }', "rules.toml:6: rule 'r': 'props': 'k': answer template"),
        ('props = "x"', "rules.toml:6: rule 'r': 'props' must be a table"),
        (f'event = "{"e" * 256}"', "rules.toml:6: rule 'r': 'event' must be a name of 1 to 255"),
        ('event_params = { a = "b" }', "rules.toml:6: rule 'r': 'event_params' needs an 'event'"),
        ("channels = []", "rules.toml:6: rule 'r': 'channels' must not be empty"),
        (
            'event = "e"\nevent_params = { a = "{{ nope }}" }',
            "rules.toml:7: rule 'r': 'event_params'",
        ),
    ],
)
def test_mistakes_are_reported_at_their_line(tmp_path: Path, lines: str, problem: str) -> None:
    write_rules(tmp_path, f'\n[[rule]]\nid = "r"\nphrases = ["hi"]\nanswer = "Hi"\n{lines}\n')
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path)
    assert str(caught.value).startswith(str(tmp_path / problem.split(":")[0]))
    assert problem.split(":", 1)[1] in str(caught.value)
