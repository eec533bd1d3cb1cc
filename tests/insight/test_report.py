"""Which answers work: per rule, whether a human still stepped in or the lead came back
unanswered within the hour, from what the real webhook recorded."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask
from pytest_httpserver import HTTPServer

from app.insight import build_insights
from tests.conftest import lead_part, load_part, webhook_form


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
    store = app.extensions["autoresponder"].store
    report = build_insights(
        store, time.time(), 7, app.extensions["autoresponder"].settings.timezone
    )
    results = {rule: (answers, human, again) for rule, answers, human, again, _ in report.results}
    assert results["pricing"] == (2, 1, 1)
    assert results["greeting"] == (1, 0, 0)
    assert report.results[0][0] == "pricing"  # the answer to rewrite first
