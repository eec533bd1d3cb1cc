"""Rules that act on the lead, end to end: the reply, the lead's properties and an event reach
Dashly's API (a stand-in on loopback) in the exact form Dashly documents, each with its own
retries, and a rule with `channels` answers only there."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.runtime import runtime_of
from tests.helpers import API_TOKEN, form_of, lead_part, wait_for, webhook_form, write_rules

RULES = """
[[rule]]
id = "contact"
patterns = [
  '(?P<email>[\\w.+-]+@[\\w-]+(?:\\.[\\w-]+)*\\.[a-z]{2,})',
  '(?P<phone>\\+\\d{11})',
]
answer = "Thanks, {{ lead.name | default('there') }}!"
props = { "$email" = "{{ match.email }}", "$phone" = "{{ match.phone }}", "topic" = "contact" }
event = "bot: contact left"
event_params = { "email" = "{{ match.email }}" }
repeat = true

[[rule]]
id = "app-only"
phrases = ["update"]
answer = "Update from the store."
channels = ["app_ios"]
"""


def build(make_app: Callable[..., Flask], api: HTTPServer, tmp_path: Path) -> Flask:
    write_rules(tmp_path / "rules", RULES)
    return make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=api.url_for("/"),
        RULES_DIR=str(tmp_path / "rules"),
    )


def calls(api: HTTPServer, path: str) -> list[Request]:
    return [request for request, response in api.log if re.search(path, request.path)]


def test_props_and_an_event_are_sent_as_dashly_documents(
    make_app: Callable[..., Flask], httpserver: HTTPServer, tmp_path: Path
) -> None:
    ok = {"meta": {"status": 200}, "data": {}}
    httpserver.expect_request(re.compile(r"^/conversations/\d+/reply$")).respond_with_json(ok)
    httpserver.expect_request(re.compile(r"^/users/\d+/(props|events)$")).respond_with_json(ok)
    httpserver.expect_request(re.compile(r"^/users/\d+$")).respond_with_json(
        {"meta": {"status": 200}, "data": {"props": {"$name": "Anna"}}}
    )
    app = build(make_app, httpserver, tmp_path)
    part = lead_part("write to name+tag@sub.example.co.uk please", 3001, 71)
    assert app.test_client().post("/webhooks/dashly", data=webhook_form(part)).json == {
        "status": "replied"
    }
    wait_for(lambda: calls(httpserver, r"/props$") and calls(httpserver, r"/events$"))
    [props] = calls(httpserver, r"^/users/85648207/props$")
    assert props.headers["Authorization"] == f"Token {API_TOKEN}"
    assert json.loads(form_of(props)["operations"]) == [
        {"op": "update_or_create", "key": "$email", "value": "name+tag@sub.example.co.uk"},
        {"op": "update_or_create", "key": "topic", "value": "contact"},
    ]  # $phone rendered empty: not sent
    [event] = calls(httpserver, r"^/users/85648207/events$")
    sent = form_of(event)
    assert sent["event"] == "bot: contact left"
    assert json.loads(sent["params"]) == {"email": "name+tag@sub.example.co.uk"}
    # Never `created`: Dashly's triggered messages ignore an event that carries it.
    assert "created" not in sent
    [reply] = calls(httpserver, r"/reply$")
    assert form_of(reply)["body"] == "Thanks, Anna!"


def test_the_lead_actions_go_out_when_the_reply_is_dead(
    make_app: Callable[..., Flask], httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request(re.compile(r"^/conversations/\d+/reply$")).respond_with_handler(
        lambda request: Response('{"meta": {"status": 400, "error": "ReplyTooBig"}}', 400)
    )
    httpserver.expect_request(re.compile(r"^/users/")).respond_with_json(
        {"meta": {"status": 200}, "data": {}}
    )
    app = build(make_app, httpserver, tmp_path)
    part = lead_part("me@example.com", 3002, 72)
    app.test_client().post("/webhooks/dashly", data=webhook_form(part))
    wait_for(lambda: calls(httpserver, r"/props$") and calls(httpserver, r"/events$"))
    store = runtime_of(app).store
    wait_for(lambda: store.outbox_counts() == {"dead": 1, "done": 2})
    [dead] = store.outbox(("dead",))
    assert "ReplyTooBig" in dead.last_error  # the reply, listed on /admin and by flask outbox


def test_a_rule_with_channels_answers_only_there(
    make_app: Callable[..., Flask], dashly_api: HTTPServer, tmp_path: Path
) -> None:
    client = build(make_app, dashly_api, tmp_path).test_client()

    def status(part_id: int, sent_via: str | None) -> str:
        part = lead_part("is there an update?", part_id, part_id)
        if sent_via is None:
            part.pop("sent_via", None)
        else:
            part["sent_via"] = sent_via
        return client.post("/webhooks/dashly", data=webhook_form(part)).json["status"]

    assert status(3101, "app_ios") == "replied"
    assert status(3102, "web_user") == "no_match"
    assert status(3103, None) == "no_match"  # no sent_via: only rules without channels
