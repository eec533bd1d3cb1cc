"""Hostile input at the webhook: every one a clear 4xx (never a 5xx) with nothing stored or
sent, or, where it is a lead's real message, answered; and linear time on any message."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.runtime import runtime_of
from app.text import normalise, strip_tags
from tests.helpers import WEBHOOK_TOKEN, lead_part, webhook_form
from tests.web.test_webhook import post, stored_rows


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_json_body_nested_thirty_thousand_deep_is_a_400(app: Flask, client: FlaskClient) -> None:
    body = '{"token": "%s", "conversation": %s}' % (WEBHOOK_TOKEN, deep(30_000))  # noqa: UP031
    response = client.post("/webhooks/dashly", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json["error"]
    assert stored_rows(app) == 0


def post_json(client: FlaskClient, conversation: object, token: str = WEBHOOK_TOKEN):
    body = json.dumps({"token": token, "conversation": conversation})
    return client.post("/webhooks/dashly", data=body, content_type="application/json")


@pytest.mark.parametrize("encode", [str, lambda text: base64.b64encode(text.encode()).decode()])
def test_a_conversation_nested_too_deep_is_a_400(
    app: Flask, client: FlaskClient, encode: Callable[[str], str]
) -> None:
    response = post_json(client, encode('{"id": 1, "x": %s}' % deep(10_000)))  # noqa: UP031
    assert response.status_code == 400
    assert stored_rows(app) == 0


def test_a_token_holding_a_lone_surrogate_is_a_401(app: Flask, client: FlaskClient) -> None:
    body = json.dumps({"token": "\ud800", "conversation": json.dumps(lead_part("hi"))})
    response = client.post("/webhooks/dashly", data=body, content_type="application/json")
    assert response.status_code == 401
    assert stored_rows(app) == 0


def test_a_message_with_surrogates_nul_and_controls_is_stored_clean_and_answered(
    make_app: Callable[..., Flask], database_url: str
) -> None:
    client = make_app(DATABASE_URL=database_url, INSIGHT_RETENTION_DAYS="14").test_client()
    body = json.dumps(lead_part("hel\x00lo \ud83d\x1b[31m there\x85, can I pay by card?", 31, 32))
    form = {"conversation": body, "type": "conversation", "token": WEBHOOK_TOKEN}
    response = client.post("/webhooks/dashly", data=form)
    assert response.status_code == 200  # on PostgreSQL too, where NUL would break the insert
    again = client.post("/webhooks/dashly", data=form)
    assert again.json == {"status": "duplicate"}  # stored once, recognised after


def test_a_random_id_beyond_64_bits_is_ignored_not_a_500(app: Flask, client: FlaskClient) -> None:
    part = lead_part("hello", 41, 42)
    part.update(type="reply_admin", random_id=2**70, sent_via="app_chrome")
    part["from"] = {"id": 1, "type": "admin"}
    response = post(client, part)
    assert response.status_code == 200
    assert response.json == {"status": "ignored"}


def test_the_token_is_read_from_the_body_only(
    app: Flask, client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    form = webhook_form(lead_part("hello", 51, 52), token="")
    only_in_url = client.post(f"/webhooks/dashly?token={WEBHOOK_TOKEN}", data=form)
    assert only_in_url.status_code == 401
    both = client.post(
        f"/webhooks/dashly?token={WEBHOOK_TOKEN}", data=webhook_form(lead_part("hello", 53, 54))
    )
    assert both.status_code == 200
    assert "take the token out of the webhook URL" in capsys.readouterr().err


def test_html_comment_stripping_grows_linearly() -> None:
    """16 times the text must cost well under 16² times the time (it was quadratic)."""

    def seconds(text: str) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            strip_tags(text)
            best = min(best, time.perf_counter() - started)
        return best

    for unit in ("<!--", "<!-- x", "<a <!--", "<p"):
        small, large = unit * 1000, unit * 16_000
        assert seconds(large) < 40 * max(seconds(small), 1e-5), unit


@pytest.mark.parametrize("unit", ["<!--", "&lt;!--", "<a ", "&#x3c;!--", "x" * 10])
def test_a_64_kb_message_of_any_shape_is_answered(
    app: Flask, client: FlaskClient, unit: str
) -> None:
    text = (unit * (64_000 // len(unit)))[:60_000]
    response = post_json(client, lead_part(text, 61, 62))
    assert response.status_code == 200
    assert len(normalise(text)) <= 4000  # what is matched and stored is capped


FORM = "application/x-www-form-urlencoded"


def raw_form(client: FlaskClient, body: bytes):
    return client.post("/webhooks/dashly", data=body, content_type=FORM)


def kept_texts(app: Flask) -> list[str]:
    path = runtime_of(app).settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT text FROM lead_messages")]


def test_a_form_body_that_is_not_utf8_is_a_400_and_changes_nothing(
    app: Flask, client: FlaskClient
) -> None:
    body = urlencode(webhook_form(lead_part("hello", 61, 62))).encode() + b"&note=\xff\xfe"
    response = raw_form(client, body)
    assert response.status_code == 400
    assert response.json == {"error": "the form is not UTF-8 text"}
    assert stored_rows(app) == 0


def test_a_form_field_of_bad_percent_escapes_is_a_400_not_a_500(
    app: Flask, client: FlaskClient
) -> None:
    body = f"token={WEBHOOK_TOKEN}&type=conversation&conversation=%7B%ff%fe%7D".encode()
    response = raw_form(client, body)
    assert response.status_code == 400
    assert "'conversation'" in response.json["error"]
    assert stored_rows(app) == 0


def test_a_repeated_form_field_counts_by_its_first_value(app: Flask, client: FlaskClient) -> None:
    form = webhook_form(lead_part("hello", 71, 72))
    first_wrong = urlencode([("token", "wrong"), *form.items()]).encode()
    assert raw_form(client, first_wrong).status_code == 401
    first_right = urlencode([*form.items(), ("token", "wrong")]).encode()
    response = raw_form(client, first_right)
    assert response.status_code == 200
    assert response.json == {"status": "replied"}


def test_plus_signs_and_escapes_in_a_form_decode_as_dashly_encodes_them(
    app: Flask, client: FlaskClient
) -> None:
    form = webhook_form(lead_part("how much is it + tax?", 81, 82))
    body = urlencode(form).encode()  # spaces as "+", "+" as "%2B", as Dashly's form encoder
    assert b"how+much+is+it+%2B+tax" in body
    response = raw_form(client, body)
    assert response.json == {"status": "replied"}  # the pricing rule's 'how much (is|...)'
    assert kept_texts(app) == ["how much is it + tax?"]


def test_a_bidi_control_written_as_an_entity_never_reaches_a_stored_text(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """Entities are decoded before the text is cleaned: "&#x202E;" (right-to-left override)
    is stripped like the character itself, in what insight keeps and what a note quotes."""
    app = make_app(DATABASE_URL=sqlite_url, INSIGHT_RETENTION_DAYS="14")
    part = lead_part("refund &#x202E;please&#x2066; &amp; now", 41, 42)
    assert post(app.test_client(), part).json["status"] in ("replied", "no_match")
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as connection:
        [(kept,)] = connection.execute("SELECT text FROM lead_messages").fetchall()
    assert kept == "refund please & now"
    assert "\u202e" not in normalise("a&#x202E;b") and "\u2066" not in normalise("a&#x2066;b")


def test_words_longer_than_any_word_are_not_kept_in_the_stem_cache() -> None:
    """A lead sending new 4,000-letter "words" cannot grow the worker's memory through it."""
    from app.text import LONGEST_WORD, _cached_stem, stem

    before = _cached_stem.cache_info().currsize
    for number in range(200):
        stem(f"{number}" + "ж" * 4000)
    assert _cached_stem.cache_info().currsize == before
    assert stem("человека") == "человек" and len("человека") <= LONGEST_WORD
