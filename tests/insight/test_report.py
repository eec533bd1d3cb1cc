"""Which answers work: per rule, whether a human still stepped in or the lead came back
unanswered within the hour, from what the real webhook recorded."""

from __future__ import annotations

import html
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from flask import Flask
from pytest_httpserver import HTTPServer

from app.cli import insights_command
from app.insight import build_insights
from app.rules import load_rules
from app.runtime import runtime_of
from tests.helpers import EXAMPLE_RULES, lead_part, load_part, webhook_form, write_rules
from tests.web.test_admin import PASSWORD, basic


def test_rule_results_show_the_answers_a_human_or_the_lead_had_to_follow(
    make_app: Callable[..., Flask], dashly_api: HTTPServer, database_url: str
) -> None:
    app = make_app(DATABASE_URL=database_url, QUIET_AFTER_OPERATOR_MINUTES="0")
    client = app.test_client()

    def send(part: dict) -> str:
        return client.post("/webhooks/dashly", data=webhook_form(part)).json["status"]

    # pricing answers twice: once a human still writes after it, once the lead comes back.
    assert send(lead_part("how much does it cost?", 1, 10)) == "replied"
    operator = load_part("reply_admin", id=2, conversation=10, random_id=None)
    assert send(operator) == "ignored"
    assert send(lead_part("how much does it cost?", 3, 11)) == "replied"
    assert send(lead_part("zzz qqq", 4, 11)) == "replied"  # by a fallback only: unanswered
    # greeting answers and settles it.
    assert send(lead_part("hello", 5, 12)) == "replied"
    store = runtime_of(app).store
    report = build_insights(store, time.time(), 7, runtime_of(app).settings.timezone)
    results = {r.rule_id: (r.answers, r.human, r.again) for r in report.results}
    assert results["pricing"] == (2, 1, 1)
    assert results["greeting"] == (1, 0, 0)
    assert report.results[0].rule_id == "pricing"  # the answer to rewrite first
    assert report.results[0].settled_percent == 0
    # The fallback's message counts as unanswered in the summary, so its row says so rather
    # than "100 % settled", and comes last.
    assert report.unanswered == 1
    last = report.results[-1]
    assert last.fallback and last.settled_percent is None
    assert last.note == "a fallback: its messages count as unanswered"


def test_admin_and_flask_insights_list_the_same_groups_and_say_how_many(
    make_app: Callable[..., Flask], dashly_api: HTTPServer, sqlite_url: str
) -> None:
    """60 different unanswered questions: both list the same 30 and say "30 of N groups"; a
    fallback's row says its messages count as unanswered in both."""
    app = make_app(DATABASE_URL=sqlite_url, ADMIN_PASSWORD=PASSWORD)
    client = app.test_client()
    syllables = random.Random(7)

    def word(length: int) -> str:  # made-up words: no two questions alike
        return "".join(
            syllables.choice("bcdfgklmnprstvz") + syllables.choice("aeiou") for _ in range(length)
        )

    for number in range(60):
        part = lead_part(f"{word(4)} {word(3)}?", 100 + number, 200 + number)
        assert client.post("/webhooks/dashly", data=webhook_form(part)).json["status"] in (
            "replied",
            "no_match",
        )
    runner = CliRunner(env={"DATABASE_URL": sqlite_url, "RULES_DIR": str(EXAMPLE_RULES)})
    printed = runner.invoke(insights_command, []).output
    page = client.get("/admin", headers=basic(PASSWORD)).get_data(as_text=True)
    listing = printed.split("grouped from")[1].splitlines()[1:]
    listed = [line.split(maxsplit=1)[1] for line in listing if line.split()[0].isdigit()]
    shown = re.findall(r'<td class="question">(.*?)</td>', page)
    assert shown == [html.escape(question) for question in listed]
    store = runtime_of(app).store
    groups = len(build_insights(store, time.time(), 7, ZoneInfo("UTC")).groups)
    assert len(listed) == 30 < groups
    assert f"(30 of {groups} groups, as on /admin)" in printed
    assert f"30 of {groups} groups, as <code>flask insights</code> lists them" in page
    assert "(a fallback: its messages count as unanswered)" in printed
    assert "(a fallback: its messages count as unanswered)" in page


def test_a_group_a_rule_now_answers_is_not_offered_again(
    make_app: Callable[..., Flask], dashly_api: HTTPServer, sqlite_url: str, tmp_path: Path
) -> None:
    """Unanswered yesterday, answered by the rule the owner wrote since: neither /admin nor
    `flask insights` offers the group again (it would be drafted as a second copy)."""
    rules = tmp_path / "rules"
    write_rules(rules, '[[rule]]\nid = "hi"\nphrases = ["hello"]\nanswer = "Hi!"\n')
    app = make_app(DATABASE_URL=sqlite_url, RULES_DIR=str(rules))
    client = app.test_client()
    for number, text in enumerate(["do you sell kettles?", "kettles for sale?", "any refunds?"]):
        part = lead_part(text, 300 + number, 400 + number)
        assert client.post("/webhooks/dashly", data=webhook_form(part)).json["status"] == "no_match"
    store = runtime_of(app).store
    before = build_insights(store, time.time(), 7, ZoneInfo("UTC"), load_rules(rules))
    assert any("kettles" in group.example for group in before.groups)
    write_rules(
        rules,
        '[[rule]]\nid = "hi"\nphrases = ["hello"]\nanswer = "Hi!"\n'
        '[[rule]]\nid = "kettles"\nphrases = ["kettles"]\nanswer = "Yes, three kinds."\n',
    )
    after = build_insights(store, time.time(), 7, ZoneInfo("UTC"), load_rules(rules))
    assert [group.example for group in after.groups] == ["any refunds?"]
    assert after.unanswered == 3  # the figures stay what happened
