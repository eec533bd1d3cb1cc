"""The calls a rule makes, end to end against a stand-in that answers as Dashly's current API
documents (tests/fakes/dashly.py, documented_api): tags already there, refused properties, events
that must trigger, "typing…", notes for the operators and closing, in their order."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.handling import random_id_for
from app.runtime import runtime_of
from tests.helpers import (
    API_TOKEN,
    documented_api,
    form_of,
    lead_part,
    wait_for,
    webhook_form,
    write_rules,
)

RULES = """
[[rule]]
id = "prices"
phrases = ["price"]
answer = "Plans start at $10 a month."
tag = "sales"
repeat = true

[[rule]]
id = "human"
phrases = ["operator"]
answer = "Passing you to a colleague."
tag = "sales"
assign = 42
note = "Asked: {{ message }}"

[[rule]]
id = "bye"
phrases = ["thanks, that's all"]
answer = "Glad to help!"
note = "Closed by the bot after: {{ message }}"
tag = "resolved"
close = true

[[rule]]
id = "contact"
patterns = ['my e-?mail is (?P<email>\\S+)']
answer = "Thanks, we will write to you."
props = { "$email" = "{{ match.email }}", "source" = "chat" }
"""


def build(make_app: Callable[..., Flask], api: HTTPServer, tmp_path: Path, **config) -> Flask:
    write_rules(tmp_path / "rules", RULES)
    return make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=api.url_for("/"),
        RULES_DIR=str(tmp_path / "rules"),
        **config,
    )


@pytest.fixture
def service(make_app: Callable[..., Flask], dashly_api: HTTPServer, tmp_path: Path) -> Flask:
    return build(make_app, dashly_api, tmp_path)


def say(client: FlaskClient, text: str, part_id: int, conversation: int) -> str:
    form = webhook_form(lead_part(text, part_id, conversation))
    return client.post("/webhooks/dashly", data=form).json["status"]


def calls(api: HTTPServer, conversation: int | None = None) -> list[tuple[str, dict[str, str]]]:
    """(what, form) of each call, in the order the stand-in received them."""
    found = []
    for request, _ in api.log:
        match = re.match(r"^/(conversations|users)/(\d+)/(\w+)$", request.path)
        if match and (conversation is None or match.group(2) == str(conversation)):
            found.append((match.group(3), form_of(request)))
    return found


def settled(app: Flask) -> bool:
    return not runtime_of(app).store.outbox(("pending", "sending"))


def test_a_tag_the_conversation_already_has_is_success_and_the_handover_follows(
    service: Flask, dashly_api: HTTPServer
) -> None:
    client = service.test_client()
    assert say(client, "what is the price?", 1, 700) == "replied"
    wait_for(lambda: [c for c in calls(dashly_api, 700) if c[0] == "tag"])
    # The same tag again (a repeatable rule, then a rule sharing it): Dashly answers 400
    # ConversationTagAlreadyAssigned, which means the tag is there.
    assert say(client, "and the price for two?", 2, 700) == "replied"
    assert say(client, "can I talk to an operator?", 3, 700) == "replied"
    wait_for(lambda: settled(service) and [c for c in calls(dashly_api, 700) if c[0] == "assign"])
    store = runtime_of(service).store
    assert store.outbox(("dead",)) == []
    assert client.get("/healthz").json["status"] == "ok"
    assert [c[1]["admin"] for c in calls(dashly_api, 700) if c[0] == "assign"] == ["42"]


def test_steps_go_in_order_reply_assign_note_tags_and_close(
    service: Flask, dashly_api: HTTPServer
) -> None:
    client = service.test_client()
    assert say(client, "<b>Operator</b> please: where is my order?", 11, 710) == "replied"
    assert say(client, "Thanks, that's all", 12, 711) == "replied"
    wait_for(lambda: settled(service) and len(calls(dashly_api, 711)) == 4)
    wait_for(lambda: len(calls(dashly_api, 710)) == 4)
    handed = calls(dashly_api, 710)
    assert [what for what, _ in handed] == ["reply", "assign", "reply", "tag"]
    note = handed[2][1]
    assert note["type"] == "note"
    # The lead's message is quoted as data, without its markup.
    assert note["body"] == "Asked: Operator please: where is my order?"
    assert "type" not in handed[0][1]
    assert note["random_id"] != handed[0][1]["random_id"]
    closed = calls(dashly_api, 711)
    assert [what for what, _ in closed] == ["reply", "reply", "tag", "close"]
    assert closed[3][1] == {
        "from_admin": "default_admin",
        "random_id": str(random_id_for("12", "close")),
    }


def test_a_property_that_already_had_the_value_is_no_refusal(
    make_app: Callable[..., Flask], httpserver: HTTPServer, tmp_path: Path
) -> None:
    """Dashly lists a property sent with the value the lead already has in
    `meta.not_changed_props` alone: success, nothing to show as not saved."""
    httpserver.expect_request(re.compile(r"^/users/\d+/props$")).respond_with_json(
        {"meta": {"status": 200, "not_changed_props": ["$email", "source"]}, "data": {}}
    )
    documented_api(httpserver)
    write_rules(tmp_path / "rules", RULES)
    app = make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=httpserver.url_for("/"),
        RULES_DIR=str(tmp_path / "rules"),
    )
    assert say(app.test_client(), "my email is anna@example.com", 31, 730) == "replied"
    store = runtime_of(app).store
    wait_for(lambda: settled(app) and store.outbox_counts().get("done") == 2)
    assert store.not_saved() == []


def test_refused_properties_are_done_logged_and_listed_as_not_saved(
    service: Flask, dashly_api: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = service.test_client()
    caplog.set_level(logging.WARNING)
    assert say(client, "my email is anna-at-example", 21, 720) == "replied"
    store = runtime_of(service).store
    [refused] = wait_for(lambda: store.not_saved())
    assert refused.status == "done"
    assert refused.last_error == "$email (Invalid email)"
    assert [c for c in calls(dashly_api, None) if c[0] == "props"] != []
    assert len([c for c in calls(dashly_api, None) if c[0] == "props"]) == 1  # no retry
    assert "event=prop_not_saved" in caplog.text and "Invalid email" in caplog.text
    assert client.get("/healthz").json["status"] == "ok"
    assert store.outbox(("dead",)) == []


def test_typing_shows_before_the_answer_and_the_webhook_does_not_wait(
    make_app: Callable[..., Flask], dashly_api: HTTPServer, tmp_path: Path
) -> None:
    app = build(make_app, dashly_api, tmp_path, TYPING_SECONDS="1")
    client = app.test_client()
    started = time.monotonic()
    assert say(client, "price?", 31, 730) == "replied"
    # Answered before the reply went: the second is waited out in the delivery thread.
    assert [what for what, _ in calls(dashly_api, 730) if what == "reply"] == []
    typed = wait_for(lambda: [c for c in calls(dashly_api, 730) if c[0] == "settyping"])
    assert [form["from_admin"] for _, form in typed] == ["default_admin"]
    wait_for(lambda: [c for c in calls(dashly_api, 730) if c[0] == "reply"], timeout=5)
    # The answer comes the configured second after the webhook, "typing…" before it.
    assert time.monotonic() - started >= 0.9
    assert [what for what, _ in calls(dashly_api, 730)][:2] == ["settyping", "reply"]


@pytest.fixture
def typing_fails_api(httpserver: HTTPServer) -> HTTPServer:
    """The documented stand-in, except that "typing…" fails."""

    def typing_fails(request: Request) -> Response:
        return Response('{"meta": {"status": 500}}', 500, content_type="application/json")

    httpserver.expect_request(
        re.compile(r"^/conversations/\d+/settyping$"), method="POST"
    ).respond_with_handler(typing_fails)
    return documented_api(httpserver)


@pytest.mark.slow
def test_a_hundred_conversations_typing_at_once_hold_no_delivery_slot(
    make_app: Callable[..., Flask], typing_fails_api: HTTPServer, tmp_path: Path
) -> None:
    """Each waits its two seconds without a sender: 40 answers (five times the senders) take
    about as long as 8, not five rounds of eight (a ratio: both runs slow down alike on a busy
    machine). A failed "typing…" is logged and the answer goes anyway."""
    app = build(make_app, typing_fails_api, tmp_path, TYPING_SECONDS="2")
    client = app.test_client()

    def seconds_to_answer(conversations: range) -> float:
        started = time.monotonic()
        for n in conversations:
            assert say(client, "price?", 100 + n, 800 + n) == "replied"
        replies = conversations.stop  # every conversation so far
        wait_for(
            lambda: len([c for c in calls(typing_fails_api) if c[0] == "reply"]) == replies,
            timeout=30,
        )
        return time.monotonic() - started

    eight, forty = seconds_to_answer(range(8)), seconds_to_answer(range(8, 48))
    assert eight >= 2.0  # each waited its typing time
    assert forty < 2 * eight, (eight, forty)  # in rounds of eight: 5 x
    assert len([c for c in calls(typing_fails_api) if c[0] == "settyping"]) == 48


def test_an_event_never_carries_created(
    make_app: Callable[..., Flask], dashly_api: HTTPServer, tmp_path: Path
) -> None:
    write_rules(
        tmp_path / "rules",
        '[[rule]]\nid = "lead"\nphrases = ["demo"]\nanswer = "Booked."\nevent = "bot: demo"\n',
    )
    app = make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=dashly_api.url_for("/"),
        RULES_DIR=str(tmp_path / "rules"),
    )
    assert say(app.test_client(), "a demo please", 41, 740) == "replied"
    [event] = wait_for(lambda: [f for what, f in calls(dashly_api) if what == "events"])
    assert event == {"event": "bot: demo", "params": "{}"}
