"""A step of a rule that fails for good does not bury the rest (docs/contract.md, delivery): the
calls go in the order typing, reply, assign, note, tags, close; each failed step is listed with
its reason; a failed hand-over gives the bot its voice back; only a failed reply is a dying
reply. The real app against a stand-in that refuses as Dashly documents."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.runtime import runtime_of
from app.store import Store
from tests.fakes.dashly import dashly_answer, documented_api, form_of
from tests.helpers import API_TOKEN, lead_part, wait_for, webhook_form, write_rules

RULES = """
[[rule]]
id = "human"
phrases = ["operator"]
answer = "Passing you to a colleague."
assign = 42
note = "Asked: {{ message }}"
tag = "handoff"

[[rule]]
id = "bye"
phrases = ["goodbye"]
answer = "Glad to help!"
note = "Closed after: {{ message }}"
tag = "resolved"
close = true
"""


def build(make_app: Callable[..., Flask], server: HTTPServer, tmp_path: Path) -> Flask:
    write_rules(tmp_path / "rules", RULES)
    documented_api(server)
    return make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=server.url_for("/"),
        RULES_DIR=str(tmp_path / "rules"),
    )


def say(client: FlaskClient, text: str, part_id: int, conversation: int) -> str:
    return client.post(
        "/webhooks/dashly", data=webhook_form(lead_part(text, part_id, conversation))
    ).json["status"]


def calls(server: HTTPServer, conversation: int) -> list[tuple[str, int]]:
    """(call, status answered) of the conversation's calls, in order."""
    prefix = f"/conversations/{conversation}/"
    return [
        (
            request.path.removeprefix(prefix)
            + (":note" if form_of(request).get("type") == "note" else ""),
            response.status_code,
        )
        for request, response in server.log
        if request.path.startswith(prefix) and request.method == "POST"
    ]


def store_of(app: Flask) -> Store:
    return runtime_of(app).store


def settled(app: Flask) -> bool:
    return not store_of(app).outbox(("pending", "sending"))


def test_an_assign_to_an_admin_who_is_gone_is_listed_and_the_bot_speaks_again(
    make_app: Callable[..., Flask], httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request(re.compile(r"^/conversations/\d+/assign$")).respond_with_handler(
        lambda request: dashly_answer(404, "LookupError")
    )
    app = build(make_app, httpserver, tmp_path)
    client = app.test_client()
    assert say(client, "operator please", 1, 900) == "replied"
    wait_for(lambda: settled(app) and len(calls(httpserver, 900)) == 4)
    assert calls(httpserver, 900) == [
        ("reply", 200),
        ("assign", 404),
        ("reply:note", 200),
        ("tag", 200),
    ]
    [item] = store_of(app).failed_steps()
    assert item.status == "done"
    assert [kind for kind, _ in item.failed_steps] == ["assign"]
    assert "HTTP 404" in item.failed_steps[0][1]
    # Nobody took the chat: the bot is not silent there, and it is no dying reply.
    assert store_of(app).memory("900").handed_off_at is None
    assert say(client, "goodbye", 2, 900) == "replied"
    assert client.get("/healthz").json["status"] == "ok"
    admin = make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=httpserver.url_for("/"),
        RULES_DIR=str(tmp_path / "rules"),
        ADMIN_PASSWORD="a-long-admin-password-for-tests",
    ).test_client()
    page = admin.get("/admin", auth=("admin", "a-long-admin-password-for-tests"))
    assert "Steps that failed after the reply" in page.text and "HTTP 404" in page.text


def test_a_note_dashly_finds_too_big_goes_again_without_the_quote(
    make_app: Callable[..., Flask], httpserver: HTTPServer, tmp_path: Path
) -> None:
    def reply(request: Request) -> Response:
        form = form_of(request)
        if form.get("type") == "note" and len(form["body"]) > 500:
            return dashly_answer(400, "ReplyTooBig")
        return dashly_answer()

    httpserver.expect_request(re.compile(r"^/conversations/\d+/reply$")).respond_with_handler(reply)
    app = build(make_app, httpserver, tmp_path)
    long_message = "operator please: " + "my order is late and nobody answers. " * 60
    assert say(app.test_client(), long_message, 3, 901) == "replied"
    wait_for(lambda: settled(app) and len(calls(httpserver, 901)) == 5)
    notes = [form_of(r)["body"] for r, _ in httpserver.log if form_of(r).get("type") == "note"]
    # The quote is cut to 1,000 characters, and a refused note goes once more without it.
    assert notes[0].startswith("Asked: operator please") and notes[0].endswith("…")
    assert len(notes[0]) == len("Asked: ") + 1000
    assert notes[1] == "Asked:"
    assert store_of(app).failed_steps() == []
    assert store_of(app).outbox_counts() == {"done": 1}


def test_closing_a_conversation_already_closed_counts_as_done(
    make_app: Callable[..., Flask], httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request(re.compile(r"^/conversations/\d+/close$")).respond_with_handler(
        lambda request: dashly_answer(400, "ValidationError")
    )
    httpserver.expect_request(
        re.compile(r"^/conversations/\d+$"), method="GET"
    ).respond_with_handler(lambda request: dashly_answer(closed=True, assignee=None, tags=[]))
    app = build(make_app, httpserver, tmp_path)
    assert say(app.test_client(), "goodbye", 4, 902) == "replied"
    wait_for(lambda: settled(app) and len(calls(httpserver, 902)) == 4)
    assert store_of(app).outbox_counts() == {"done": 1}
    assert store_of(app).failed_steps() == []


def test_after_a_reply_refused_for_good_the_hand_over_note_and_tags_still_go_but_not_close(
    make_app: Callable[..., Flask], httpserver: HTTPServer, tmp_path: Path
) -> None:
    def reply(request: Request) -> Response:
        if form_of(request).get("type") == "note":
            return dashly_answer()
        return dashly_answer(400, "ValidationError")

    httpserver.expect_request(re.compile(r"^/conversations/\d+/reply$")).respond_with_handler(reply)
    app = build(make_app, httpserver, tmp_path)
    client = app.test_client()
    assert say(client, "operator please", 5, 903) == "replied"
    assert say(client, "goodbye", 6, 904) == "replied"
    wait_for(lambda: settled(app) and len(calls(httpserver, 903)) == 4)
    wait_for(lambda: settled(app) and len(calls(httpserver, 904)) == 3)
    assert [c for c, _ in calls(httpserver, 903)] == ["reply", "assign", "reply:note", "tag"]
    assert [c for c, _ in calls(httpserver, 904)] == ["reply", "reply:note", "tag"]  # no close
    dead = store_of(app).outbox(("dead",))
    assert len(dead) == 2
    # The reply itself failed: that is a dying reply.
    health = client.get("/healthz").json
    assert health["status"] == "degraded" and health["reason"] == "replies_dying"


@pytest.mark.parametrize("statuses", [(404,), (403,)])
def test_a_refused_tag_alone_is_listed_and_the_reply_is_done(
    make_app: Callable[..., Flask], httpserver: HTTPServer, tmp_path: Path, statuses: tuple[int]
) -> None:
    httpserver.expect_request(re.compile(r"^/conversations/\d+/tag$")).respond_with_handler(
        lambda request: dashly_answer(statuses[0], "LookupError")
    )
    app = build(make_app, httpserver, tmp_path)
    client = app.test_client()
    assert say(client, "goodbye", 7, 905) == "replied"
    wait_for(lambda: settled(app) and len(calls(httpserver, 905)) == 4)
    assert [c for c, _ in calls(httpserver, 905)] == ["reply", "reply:note", "tag", "close"]
    [item] = store_of(app).failed_steps()
    assert item.status == "done" and item.failed_steps[0][0] == "tag"
    assert client.get("/healthz").json["status"] == "ok"
