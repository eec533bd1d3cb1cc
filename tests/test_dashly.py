"""Parsing every real part shape, and the API client against a stand-in on loopback."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer

from app.dashly import (
    ApiFailure,
    DashlyClient,
    PartError,
    decode_conversation,
    parse_part,
    parse_retry_after,
)
from tests.conftest import load_part


@pytest.mark.parametrize(
    ("name", "part_id", "conversation", "part_type", "sent_via", "author"),
    [
        ("reply_user", "78183798", "64558819", "reply_user", "web_user", "85648207"),
        (
            "reply_user_string_ids",
            "1983951193033934722",
            "1976383525275829882",
            "reply_user",
            "web_user",
            "1976380630065219468",
        ),
        ("reply_admin", "7936880", "7179725", "reply_admin", "app_chrome", "14709"),
        ("reply_admin_auto_html", "7493777", "6779974", "reply_admin", "message_auto", None),
        ("note", "7936881", "7179725", "note", "app_chrome", "14709"),
        ("assigned", "7936882", "7179725", "assigned", "", "14709"),
        ("closed", "7936883", "7179725", "closed", "", "14709"),
        ("chat_bot_admin", "7936884", "7179725", "chat_bot_admin", "message_chat_bot", None),
    ],
)
def test_every_documented_part_parses_with_ids_as_strings(
    name: str, part_id: str, conversation: str, part_type: str, sent_via: str, author: str | None
) -> None:
    part = parse_part(load_part(name))
    assert (part.id, part.conversation, part.type) == (part_id, conversation, part_type)
    assert (part.sent_via, part.author_id) == (sent_via, author)


def test_lead_and_automatic_parts_are_recognised() -> None:
    assert parse_part(load_part("reply_user")).is_lead_message
    assert not parse_part(load_part("reply_admin")).is_lead_message
    assert parse_part(load_part("reply_admin_auto_html")).is_automatic
    assert parse_part(load_part("chat_bot_admin")).is_automatic
    assert not parse_part(load_part("reply_admin")).is_automatic
    assert parse_part(load_part("reply_user")).random_id == 132466821


def test_conversation_field_as_json_base64_or_object() -> None:
    part = load_part("reply_user_string_ids")
    text = json.dumps(part, ensure_ascii=False)
    encoded = base64.b64encode(text.encode()).decode()
    assert decode_conversation(text) == part
    assert decode_conversation(encoded) == part
    assert decode_conversation(base64.urlsafe_b64encode(text.encode()).decode()) == part
    assert decode_conversation(part) == part


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": None}, "no 'id'"),
        ({"conversation": ""}, "no 'conversation'"),
        ({"type": None}, "no 'type'"),
        ({"id": "12a"}, "'id' must be all digits"),
        ({"id": -5}, "'id' must be all digits"),
        ({"id": True}, "'id' must be a number"),
        ({"conversation": "1/../2"}, "'conversation' must be all digits"),
        ({"conversation": "١٢٣"}, "'conversation' must be all digits"),  # Arabic-Indic digits
        ({"id": "9" * 40}, "'id' is too long"),
        ({"type": 5}, "'type' must be a string"),
        ({"body": ["x"]}, "'body' must be a string"),
    ],
)
def test_bad_parts_are_refused_with_a_reason(changes: dict, message: str) -> None:
    with pytest.raises(PartError, match=message):
        parse_part(load_part("reply_user", **changes))


@pytest.mark.parametrize("raw", ["", "not json", "W10=", "[1, 2]", "bm90IGpzb24=", 42])
def test_conversation_that_is_not_an_object_is_refused(raw: object) -> None:
    with pytest.raises(PartError):
        decode_conversation(raw)


def test_reply_posts_the_documented_form(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(
        "/conversations/1976383525275829882/reply",
        method="POST",
        headers={"Authorization": "Token key-1"},
        data="body=Hi+there%21&from_admin=42&random_id=12345",
    ).respond_with_json({"meta": {"status": 200}, "data": {}})
    client = DashlyClient(httpserver.url_for("/"), "key-1", "42")
    client.reply("1976383525275829882", "Hi there!", 12345)
    httpserver.check_assertions()


def test_an_api_url_with_a_path_keeps_it_in_every_call(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/api/conversations/5/tag", method="POST").respond_with_json(
        {"meta": {"status": 200}, "data": {}}
    )
    httpserver.expect_oneshot_request("/api/users/77").respond_with_json(
        {"meta": {"status": 200}, "data": {"props": {"$name": "Anna"}}}
    )
    client = DashlyClient(httpserver.url_for("/api/"), "key", "default_admin")
    client.add_tag("5", "vip")
    assert client.lead_name("77") == "Anna"
    httpserver.check_assertions()


def test_a_redirect_is_not_followed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/conversations/5/reply").respond_with_data(
        "", status=302, headers={"Location": "http://127.0.0.1:9/elsewhere"}
    )
    with pytest.raises(ApiFailure, match="HTTP 302"):
        DashlyClient(httpserver.url_for("/"), "key", "default_admin").reply("5", "x", 1)


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (401, False)]
)
def test_failures_are_split_into_retryable_and_final(
    httpserver: HTTPServer, status: int, retryable: bool
) -> None:
    httpserver.expect_request("/conversations/5/reply").respond_with_json(
        {"meta": {"status": status, "error": "Oops", "error_message": "details"}, "data": {}},
        status=status,
        headers={"Retry-After": "7"},
    )
    with pytest.raises(ApiFailure) as caught:
        DashlyClient(httpserver.url_for("/"), "key", "default_admin").reply("5", "x", 1)
    assert caught.value.retryable is retryable
    assert caught.value.status == status
    assert caught.value.retry_after == 7
    assert "Oops details" in str(caught.value)
    assert "key" not in str(caught.value)


def test_an_error_inside_a_200_answer_counts(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/conversations/5/reply").respond_with_json(
        {"meta": {"status": 400, "error": "ReplyTooBig"}, "data": {}}
    )
    with pytest.raises(ApiFailure, match=r"HTTP 400.*ReplyTooBig"):
        DashlyClient(httpserver.url_for("/"), "key", "default_admin").reply("5", "x", 1)


def test_unreachable_api_is_retryable() -> None:
    with pytest.raises(ApiFailure) as caught:
        DashlyClient("http://127.0.0.1:9", "key", "default_admin").reply("5", "x", 1)
    assert caught.value.retryable


def test_lead_name_is_read_from_props_and_never_raises(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/users/77").respond_with_json(
        {"meta": {"status": 200}, "data": {"props": {"$name": "Anna"}}}
    )
    httpserver.expect_request("/users/78").respond_with_data("oops", status=500)
    client = DashlyClient(httpserver.url_for("/"), "key", "default_admin")
    assert client.lead_name("77") == "Anna"
    assert client.lead_name("78") is None
    assert DashlyClient("http://127.0.0.1:9", "k", "a").lead_name("77") is None


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    later = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(later, now) == 30
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
