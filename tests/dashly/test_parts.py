"""Parsing every real part shape Dashly posts."""

from __future__ import annotations

import base64
import json

import pytest

from app.dashly import (
    PartError,
    decode_conversation,
    parse_part,
)
from tests.helpers import load_part


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
