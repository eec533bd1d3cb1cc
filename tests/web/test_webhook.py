"""The webhook through the Flask client: every status, every error, and what reaches Dashly."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer

from app.handling import random_id_for
from app.runtime import runtime_of
from tests.helpers import (
    API_PATH,
    API_TOKEN,
    WEBHOOK_TOKEN,
    api_calls,
    lead_part,
    load_part,
    wait_for,
    webhook_form,
    write_rules,
)


def post(client: FlaskClient, part: dict | str, token: str = WEBHOOK_TOKEN):
    return client.post("/webhooks/dashly", data=webhook_form(part, token))


def stored_rows(app: Flask) -> int:
    """Rows in every table of the real SQLite file: what a refused request must not add."""
    path = runtime_of(app).settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        tables = ("handled_parts", "lead_messages", "conversations", "answered_rules", "outbox")
        return sum(connection.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables)


def sent_form(request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}


def test_the_help_page_example_is_answered_in_the_chat(
    client: FlaskClient, dashly_api: HTTPServer
) -> None:
    response = post(client, lead_part("Hello, how are you", part_id=11, conversation=64558819))
    assert response.status_code == 200
    assert response.json == {"status": "replied"}
    [request] = wait_for(lambda: api_calls(dashly_api))
    assert request.path == "/conversations/64558819/reply"
    assert request.headers["Authorization"] == f"Token {API_TOKEN}"
    # The greeting yields to the question beside it (docs/rules.md, small talk).
    assert sent_form(request) == {
        "body": "Doing great, thanks for asking! What can I do for you?",
        "from_admin": "default_admin",
        "random_id": str(random_id_for("11")),
    }
    assert 0 < random_id_for("11") < 2**31


def test_string_ids_and_russian_text(client: FlaskClient, dashly_api: HTTPServer) -> None:
    part = load_part("reply_user_string_ids", body="Добрый день! Сколько стоит доставка?")
    assert post(client, part).json == {"status": "replied"}
    [request] = wait_for(lambda: api_calls(dashly_api))
    assert request.path == "/conversations/1976383525275829882/reply"
    assert sent_form(request)["body"].startswith("Тарифы от 700")


def test_the_answer_is_compact_json(client: FlaskClient) -> None:
    response = post(client, lead_part("hello", part_id=23, conversation=11))
    assert (response.mimetype, response.data) == ("application/json", b'{"status":"replied"}')


def test_json_and_base64_bodies_are_accepted(client: FlaskClient) -> None:
    part = lead_part("hello", part_id=21, conversation=9)
    as_json = {"conversation": part, "type": "conversation", "token": WEBHOOK_TOKEN}
    assert client.post("/webhooks/dashly", json=as_json).json == {"status": "replied"}
    encoded = base64.b64encode(json.dumps(lead_part("hello", 22, 10)).encode()).decode()
    assert post(client, encoded).json == {"status": "replied"}


def test_a_repeated_part_is_a_duplicate_and_never_answered_twice(
    client: FlaskClient, dashly_api: HTTPServer
) -> None:
    part = lead_part("price?", part_id=31, conversation=12)
    assert post(client, part).json == {"status": "replied"}
    assert post(client, part).json == {"status": "duplicate"}
    wait_for(lambda: api_calls(dashly_api))
    assert len(api_calls(dashly_api)) == 1


def test_a_rule_answers_once_per_conversation_then_the_fallback_once(
    make_app: Callable[..., Flask], dashly_api: HTTPServer, tmp_path: Path
) -> None:
    # Rules of its own: the shipped out-of-office fallback would make the outcome depend on the
    # hour at which the suite runs.
    write_rules(
        tmp_path / "rules",
        '[[rule]]\nid = "greeting"\nphrases = ["hello"]\n'
        "answer = \"Hi {{ lead.name | default('there') }}!\"\n\n"
        '[[rule]]\nid = "fallback"\nfallback = true\nanswer = "An operator will answer soon."\n',
    )
    app = make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=dashly_api.url_for("/"),
        RULES_DIR=str(tmp_path / "rules"),
    )
    client = app.test_client()
    assert post(client, lead_part("hello", 41, 13)).json == {"status": "replied"}
    assert post(client, lead_part("hello again", 42, 13)).json == {"status": "replied"}
    assert post(client, lead_part("hello?", 43, 13)).json == {"status": "no_match"}
    replies = wait_for(lambda: len(api_calls(dashly_api)) == 2 and api_calls(dashly_api))
    assert [sent_form(r)["body"] for r in replies] == ["Hi Anna!", "An operator will answer soon."]


@pytest.mark.parametrize(
    "name", ["reply_admin_auto_html", "note", "assigned", "closed", "chat_bot_admin"]
)
def test_parts_that_are_not_lead_messages_are_ignored(
    client: FlaskClient, dashly_api: HTTPServer, name: str
) -> None:
    assert post(client, load_part(name, body="hello")).json == {"status": "ignored"}
    assert api_calls(dashly_api) == []


def test_an_operator_message_is_not_answered_and_silences_the_bot(
    client: FlaskClient, dashly_api: HTTPServer
) -> None:
    operator = load_part("reply_admin", body="hello", conversation=14)
    assert post(client, operator).json == {"status": "ignored"}
    assert post(client, lead_part("hello", 51, 14)).json == {"status": "ignored"}
    assert api_calls(dashly_api) == []


def test_dry_run_stores_the_reply_and_sends_nothing(
    make_app: Callable[..., Flask], dashly_api: HTTPServer
) -> None:
    app = make_app(DASHLY_API_TOKEN="", DASHLY_API_URL=dashly_api.url_for("/"))
    client = app.test_client()
    assert post(client, lead_part("hello", 61, 15)).json == {"status": "replied"}
    store = runtime_of(app).store
    wait_for(lambda: store.outbox_counts().get("dry_run") == 1)
    assert api_calls(dashly_api) == []
    assert client.get("/healthz").json["dry_run"] is True


def test_healthz_reports_rules(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["rules"] >= 10
    assert "rules_error" not in response.json


def test_healthz_is_503_when_the_store_is_unreachable(
    make_app: Callable[..., Flask], tmp_path
) -> None:
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    (tmp_path / "db.sqlite3").unlink()
    (tmp_path / "db.sqlite3").mkdir()  # the file is now a folder: SQLite cannot open it
    runtime_of(app).store.close()
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["store"] == "unreachable"


def test_unset_webhook_token_refuses_every_remote_webhook_and_says_why_only_in_the_log(
    make_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_app(DASHLY_WEBHOOK_TOKEN="").test_client()
    form = webhook_form(lead_part("hello"), token="dev-webhook-token")
    response = client.post(
        "/webhooks/dashly", data=form, environ_base={"REMOTE_ADDR": "203.0.113.9"}
    )
    assert response.status_code == 401
    assert response.json == {"error": "wrong or missing token"}  # nothing said to a stranger
    assert "DASHLY_WEBHOOK_TOKEN is not set" in capsys.readouterr().err


def test_the_development_token_opens_only_the_loopback_door(
    make_app: Callable[..., Flask],
) -> None:
    form = webhook_form(lead_part("hello", 1201, 61), token="dev-webhook-token")
    client = make_app(DASHLY_WEBHOOK_TOKEN="", LOCAL_RUN="make").test_client()
    assert client.post("/webhooks/dashly", data=form).json == {"status": "replied"}
    assert client.get("/healthz").json["status"] == "ok"
    relayed = client.post("/webhooks/dashly", data=form, headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status_code == 401  # a proxy on this machine relays strangers
    # A page open in the developer's browser posting cross-site is no development tool.
    for page in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        again = webhook_form(lead_part("hello", 1203, 63), token="dev-webhook-token")
        from_a_page = client.post("/webhooks/dashly", data=again, headers=page)
        assert from_a_page.status_code == 401 and "error" in from_a_page.json
    # Once a real token is set, or on a platform dyno, the development token is refused.
    assert (
        post(make_app().test_client(), lead_part("hi", 1202, 62), "dev-webhook-token").status_code
        == 401
    )
    on_dyno = make_app(DASHLY_WEBHOOK_TOKEN="", DYNO="web.1", LOCAL_RUN="make").test_client()
    assert on_dyno.post("/webhooks/dashly", data=form).status_code == 401
    assert on_dyno.get("/healthz").json == {
        **on_dyno.get("/healthz").json,
        "status": "degraded",
        "reason": "no_webhook_token",
    }
    # Started by gunicorn alone (the Procfile, or behind a proxy on this machine): refused.
    served = make_app(DASHLY_WEBHOOK_TOKEN="").test_client()
    assert served.post("/webhooks/dashly", data=form).status_code == 401


GOOD = json.dumps(lead_part("hello", 71, 16))


@pytest.mark.parametrize(
    ("request_kwargs", "status", "error"),
    [
        ({"data": {"conversation": GOOD, "token": "wrong"}}, 401, "wrong token"),
        ({"data": {"conversation": GOOD}}, 401, "missing token"),
        ({"data": {"conversation": GOOD, "token": WEBHOOK_TOKEN + "x"}}, 401, "wrong token"),
        ({"json": {"conversation": GOOD, "token": ["list"]}}, 401, "missing token"),
        ({"data": {"token": WEBHOOK_TOKEN}}, 400, "missing 'conversation'"),
        ({"data": {"conversation": "{not json", "token": WEBHOOK_TOKEN}}, 400, "neither JSON"),
        ({"data": {"conversation": "[1, 2]", "token": WEBHOOK_TOKEN}}, 400, "JSON object"),
        ({"data": {"conversation": "%%%", "token": WEBHOOK_TOKEN}}, 400, "neither JSON"),
        (
            {
                "data": {
                    "conversation": json.dumps({"id": 1, "type": "reply_user"}),
                    "token": WEBHOOK_TOKEN,
                }
            },
            400,
            "no 'conversation'",
        ),
        (
            {
                "data": {
                    "conversation": json.dumps({"conversation": 1, "type": "reply_user"}),
                    "token": WEBHOOK_TOKEN,
                }
            },
            400,
            "no 'id'",
        ),
        (
            {
                "data": {
                    "conversation": json.dumps({"id": 1, "conversation": 2}),
                    "token": WEBHOOK_TOKEN,
                }
            },
            400,
            "no 'type'",
        ),
        (
            {
                "data": {
                    "conversation": json.dumps(lead_part("hi", "12x", 3)),
                    "token": WEBHOOK_TOKEN,
                }
            },
            400,
            "'id' must be all digits",
        ),
        (
            {
                "data": {
                    "conversation": json.dumps(lead_part("hi", 5, "../../users")),
                    "token": WEBHOOK_TOKEN,
                }
            },
            400,
            "'conversation' must be all digits",
        ),
        (
            {"data": {"conversation": json.dumps(lead_part("hi", 5, 1.5)), "token": WEBHOOK_TOKEN}},
            400,
            "'conversation' must be all digits",
        ),
        ({"data": "{bad json", "content_type": "application/json"}, 400, "not a JSON object"),
        ({"data": "[1]", "content_type": "application/json"}, 400, "not a JSON object"),
        ({"data": "hello", "content_type": "text/plain"}, 415, "application/json"),
        ({"data": b"\x00\x01"}, 415, "application/json"),
        (
            {"data": "type=conversation", "content_type": "application/x-www-form-urlencoded"},
            415,
            "'token' and 'conversation'",
        ),
        ({"data": b"\xff\xfe=1", "content_type": "application/x-www-from-urlencoded"}, 415, "form"),
        (
            {"data": {"conversation": "x" * 70000, "token": WEBHOOK_TOKEN}},
            413,
            "larger than 65536 bytes",
        ),
    ],
)
def test_bad_input_gets_a_4xx_with_a_json_error_and_changes_nothing(
    client: FlaskClient,
    app: Flask,
    dashly_api: HTTPServer,
    request_kwargs: dict,
    status: int,
    error: str,
) -> None:
    before = stored_rows(app)
    response = client.post("/webhooks/dashly", **request_kwargs)
    assert response.status_code == status
    assert error in response.json["error"]
    assert WEBHOOK_TOKEN not in response.get_data(as_text=True)
    assert stored_rows(app) == before
    assert dashly_api.log == []


@pytest.mark.parametrize(
    "content_type", ["application/x-www-from-urlencoded", "text/plain", None, "application/xml"]
)
def test_a_body_is_read_by_what_it_holds_whatever_its_content_type_says(
    client: FlaskClient, content_type: str | None
) -> None:
    """A Russian copy of Dashly's help page prints the form's type misspelt; a proxy may drop
    it or say text/plain. A form or a JSON object is read all the same."""
    form = webhook_form(lead_part("hello", 9301 if content_type else 9300, 930))
    body = "&".join(f"{k}={quote(v)}" for k, v in form.items())
    response = client.post("/webhooks/dashly", data=body, content_type=content_type)
    assert response.status_code == 200, response.json
    as_json = client.post(
        "/webhooks/dashly",
        data=json.dumps(webhook_form(lead_part("price?", 9302 if content_type else 9303, 931))),
        content_type=content_type,
    )
    assert as_json.status_code == 200, as_json.json


def test_the_fallback_speaks_the_leads_language(
    make_app: Callable[..., Flask], dashly_api: HTTPServer, tmp_path
) -> None:
    write_rules(
        tmp_path / "rules",
        '[[rule]]\nid = "later-ru"\nfallback = true\nlanguage = "ru"\n'
        'answer = "Спасибо! Оператор ответит здесь."\n'
        '[[rule]]\nid = "later"\nfallback = true\nanswer = "Thanks! An operator will answer."\n',
    )
    app = make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=dashly_api.url_for("/"),
        RULES_DIR=str(tmp_path / "rules"),
    )
    client = app.test_client()
    assert post(client, lead_part("Где мой заказ?", 9401, 940)).json == {"status": "replied"}
    assert post(client, lead_part("Where is my order?", 9402, 941)).json == {"status": "replied"}
    sent = wait_for(lambda: len(api_calls(dashly_api)) == 2 and api_calls(dashly_api))
    bodies = {request.path: sent_form(request)["body"] for request in sent}
    assert bodies == {
        "/conversations/940/reply": "Спасибо! Оператор ответит здесь.",
        "/conversations/941/reply": "Thanks! An operator will answer.",
    }


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_405_with_json(client: FlaskClient, method: str) -> None:
    response = client.open("/webhooks/dashly", method=method)
    assert response.status_code == 405
    assert "not allowed" in response.json["error"]
    assert "POST" in response.headers["Allow"]


def test_unknown_paths_get_404_with_json(client: FlaskClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json == {"error": "no such endpoint"}


def test_tokens_never_reach_the_log(
    client: FlaskClient, dashly_api: HTTPServer, capfd: pytest.CaptureFixture[str]
) -> None:
    post(client, lead_part("hello", 81, 17))
    post(client, lead_part("hello", 82, 17), token="wrong")
    wait_for(lambda: api_calls(dashly_api))
    logged = capfd.readouterr().err
    assert "event=webhook part=81" in logged
    assert WEBHOOK_TOKEN not in logged and API_TOKEN not in logged


def test_our_own_reply_coming_back_is_ignored_and_does_not_silence_the_bot(
    client: FlaskClient, dashly_api: HTTPServer
) -> None:
    assert post(client, lead_part("hello", 101, 18)).json == {"status": "replied"}
    [request] = wait_for(lambda: api_calls(dashly_api))
    echo = load_part(
        "reply_admin",
        id=102,
        conversation=18,
        body=sent_form(request)["body"],
        sent_via="api",
        random_id=int(sent_form(request)["random_id"]),
        **{"from": {"type": "default_admin", "name": "Bot"}},
    )
    assert post(client, echo).json == {"status": "ignored"}
    assert post(client, lead_part("how much is it?", 103, 18)).json == {"status": "replied"}


def test_a_handoff_rule_tags_assigns_and_silences_the_conversation(
    make_app: Callable[..., Flask], dashly_api: HTTPServer, tmp_path
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.toml").write_text(
        '[[rule]]\nid = "human"\nphrases = ["operator"]\nanswer = "Passing you on"\n'
        'tag = "handoff"\nassign = "14709"\n'
        '[[rule]]\nid = "later"\nfallback = true\nanswer = "Soon"\n'
    )
    app = make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=dashly_api.url_for("/"),
        RULES_DIR=str(tmp_path / "rules"),
    )
    client = app.test_client()
    assert post(client, lead_part("operator please", 111, 19)).json == {"status": "replied"}
    assert post(client, lead_part("hello?", 112, 19)).json == {"status": "ignored"}
    wait_for(lambda: api_calls(dashly_api, "/tag"))
    paths = [request.path for request, _ in dashly_api.log]
    # The hand-over right after the reply: a tag that fails cannot keep it back.
    assert paths == [
        "/conversations/19/reply",
        "/conversations/19/assign",
        "/conversations/19/tag",
    ]


def test_quiet_rule_can_be_turned_off(
    make_app: Callable[..., Flask], dashly_api: HTTPServer
) -> None:
    app = make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=dashly_api.url_for("/"),
        QUIET_AFTER_OPERATOR_MINUTES="0",
    )
    client = app.test_client()
    assert post(client, load_part("reply_admin", conversation=20)).json == {"status": "ignored"}
    assert post(client, lead_part("hello", 121, 20)).json == {"status": "replied"}


def test_hours_decide_which_rule_answers_through_the_webhook(
    make_app: Callable[..., Flask], dashly_api: HTTPServer, tmp_path
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.toml").write_text(
        '[[rule]]\nid = "closed"\nphrases = ["open"]\nanswer = "Closed"\npriority = 9\n'
        'outside_hours = "daily 00:00-24:00"\n'
        '[[rule]]\nid = "open"\nphrases = ["open"]\nanswer = "Open"\n'
        'hours = "daily 00:00-24:00"\ntimezone = "Asia/Tokyo"\n'
    )
    app = make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=dashly_api.url_for("/"),
        RULES_DIR=str(tmp_path / "rules"),
        BOT_TIMEZONE="America/Los_Angeles",
    )
    assert post(app.test_client(), lead_part("are you open?", 131, 21)).json == {
        "status": "replied"
    }
    [request] = wait_for(lambda: api_calls(dashly_api))
    assert sent_form(request)["body"] == "Open"


def test_healthz_says_degraded_with_a_fixed_reason_while_replies_die(
    make_app: Callable[..., Flask], httpserver: HTTPServer
) -> None:
    # Dashly refuses the API key: every reply dies, while webhooks are still accepted.
    httpserver.expect_request(API_PATH, method="POST").respond_with_json(
        {"meta": {"status": 401, "error": "Unauthorized", "error_message": "bad key sk-123"}},
        status=401,
    )
    app = make_app(DASHLY_API_TOKEN="sk-123-rejected", DASHLY_API_URL=httpserver.url_for("/"))
    client = app.test_client()
    assert client.get("/healthz").json["status"] == "ok"
    assert post(client, lead_part("hello", 81, 18)).json == {"status": "replied"}
    health = wait_for(lambda: client.get("/healthz").json.get("reason") and client.get("/healthz"))
    assert health.status_code == 200  # webhooks are still accepted: not a 503
    assert health.json["status"] == "degraded"
    assert health.json["reason"] == "api_key_rejected"
    assert "sk-123" not in health.get_data(as_text=True)
