"""Rules that see the conversation (docs/rules.md): `if_tags` / `unless_tags` read the part's
`conversation_tags`, `first_message` answers only a conversation's first lead message recorded
here. The real app and store, the documented part shape with only those fields changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer

from app.insight.replay import replay
from app.rules import RulesError, load_rules
from app.runtime import runtime_of
from tests.helpers import API_TOKEN, load_part, webhook_form, write_rules

RULES = """
[[rule]]
id = "vip"
phrases = ["price"]
if_tags = "vip"
answer = "A manager will call you about prices."
priority = 1

[[rule]]
id = "welcome"
phrases = ["hello"]
first_message = true
answer = "Welcome! How can I help?"

[[rule]]
id = "price"
phrases = ["price"]
unless_tags = ["wholesale"]
answer = "Plans start at $10 a month."
repeat = true

[[rule]]
id = "later"
fallback = true
answer = "An operator will answer soon."
repeat = true
"""


@pytest.fixture
def client(make_app: Callable[..., Flask], dashly_api: HTTPServer, tmp_path: Path) -> FlaskClient:
    write_rules(tmp_path / "rules", RULES)
    app = make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=dashly_api.url_for("/"),
        RULES_DIR=str(tmp_path / "rules"),
    )
    return app.test_client()


def answered(client: FlaskClient, body: str, part_id: int, conversation: int, tags: list) -> str:
    part = load_part(
        "reply_user", id=part_id, conversation=conversation, body=body, conversation_tags=tags
    )
    client.post("/webhooks/dashly", data=webhook_form(part))
    rows = runtime_of(client.application).store.stored_messages(0)
    return next(row.rule_id for row in rows if row.text == body)


@pytest.mark.parametrize(
    ("tags", "meant"),
    [(["vip"], "vip"), ([], "price"), (["wholesale"], "later"), (["vip", "wholesale"], "vip")],
)
def test_tags_choose_among_the_matching_rules(
    client: FlaskClient, tags: list[str], meant: str
) -> None:
    assert answered(client, "what is the price", 11, 900, tags) == meant


def test_a_first_message_rule_answers_only_the_first_lead_message(client: FlaskClient) -> None:
    assert answered(client, "hello there", 21, 910, []) == "welcome"
    assert answered(client, "hello again", 22, 910, []) == "later"
    assert answered(client, "hello there!", 23, 911, []) == "welcome"


def test_the_same_tag_in_if_tags_and_unless_tags_is_refused(tmp_path: Path) -> None:
    write_rules(
        tmp_path,
        '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "b"\nif_tags = ["vip"]\n'
        'unless_tags = "vip"\n',
    )
    with pytest.raises(RulesError) as refused:
        load_rules(tmp_path)
    [problem] = refused.value.problems
    assert problem.startswith(f"{tmp_path / 'rules.toml'}:6: rule 'x':")
    assert "could never answer" in problem


def test_rule_set_match_judges_an_untagged_conversation(tmp_path: Path) -> None:
    write_rules(tmp_path, RULES)
    rules = load_rules(tmp_path)
    assert rules.match("price please").rule.id == "price"
    assert rules.match("price please", tags=frozenset({"vip"})).rule.id == "vip"


def test_replay_judges_tags_and_first_messages_as_when_the_lead_wrote(
    client: FlaskClient, tmp_path: Path
) -> None:
    assert answered(client, "any discount for me", 31, 920, ["vip"]) == "later"
    assert answered(client, "any discount for us", 32, 921, []) == "later"
    assert answered(client, "what is this", 33, 930, []) == "later"
    assert answered(client, "good morning people", 34, 930, []) == "later"
    assert answered(client, "good morning all", 35, 931, []) == "later"
    write_rules(
        tmp_path / "edited",
        RULES + '[[rule]]\nid = "vip-discount"\nphrases = ["discount"]\nif_tags = "vip"\n'
        'answer = "Yes."\n\n[[rule]]\nid = "morning"\nphrases = ["good morning"]\n'
        'first_message = true\nanswer = "Morning!"\n',
    )
    stored = runtime_of(client.application).store.stored_messages(0)
    found = replay(load_rules(tmp_path / "edited"), stored)
    assert dict(found.newly_counts) == {"vip-discount": 1, "morning": 1}
    assert found.newly["vip-discount"] == ["any discount for me"]
    assert found.newly["morning"] == ["good morning all"]
