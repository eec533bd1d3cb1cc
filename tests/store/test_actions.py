"""A queued item's calls are typed (app/actions.py) and kept as the same JSON objects rows
have always held: an item queued by the version before reads and runs the same."""

from __future__ import annotations

import pytest

from app.actions import (
    Assign,
    Close,
    Event,
    Note,
    Props,
    Reply,
    Tag,
    Typing,
    Unknown,
    action_from_json,
    action_to_json,
)

# Rows as the version before wrote them (`{"do": KIND, ...}`, no empty fields).
ROWS = [
    ({"do": "typing", "seconds": 2}, Typing(2)),
    ({"do": "reply", "body": "Hi!"}, Reply(body="Hi!")),
    (
        {"do": "reply", "template": "Hi {{ lead.name }}!", "match": {}, "lead": "85648207"},
        Reply(template="Hi {{ lead.name }}!", lead="85648207"),
    ),
    ({"do": "assign", "admin": "14709"}, Assign("14709")),
    (
        {
            "do": "note",
            "random_id": 5,
            "template": "Asked: {{ message }}",
            "match": {},
            "message": "?",
        },
        Note(random_id=5, template="Asked: {{ message }}", message="?"),
    ),
    ({"do": "tag", "tag": "vip"}, Tag("vip")),
    ({"do": "close", "random_id": 9}, Close(9)),
    (
        {
            "do": "props",
            "lead": "7",
            "props": [["$email", "{{ match.email }}"]],
            "match": {"email": "a@b.c"},
        },
        Props(lead="7", props=[["$email", "{{ match.email }}"]], match={"email": "a@b.c"}),
    ),
    (
        {"do": "event", "lead": "7", "event": "asked_price", "params": [], "match": {}},
        Event(lead="7", event="asked_price"),
    ),
]


@pytest.mark.parametrize(("row", "action"), ROWS)
def test_a_row_of_the_version_before_reads_as_its_typed_action(row: dict, action: object) -> None:
    assert action_from_json(row) == action
    assert action_from_json(action_to_json(action_from_json(row))) == action  # type: ignore[arg-type]


def test_a_kind_or_field_this_version_does_not_know_is_kept_as_unknown() -> None:
    assert action_from_json({"do": "teleport", "to": "mars"}) == Unknown("teleport", {"to": "mars"})
    assert action_from_json({"do": "tag", "colour": "red"}) == Unknown("tag", {"colour": "red"})
    assert action_to_json(Unknown("teleport", {"to": "mars"})) == {"do": "teleport", "to": "mars"}
