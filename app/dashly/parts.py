"""The ConversationPart Dashly posts to the webhook: decoding and validating it into a Part."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from app.text import clean

LEAD_MESSAGE = "reply_user"
ADMIN_MESSAGE = "reply_admin"
# Parts sent by Dashly itself (triggered messages, its chat bots), not by a person.
AUTOMATIC_SENDERS = frozenset({"message_auto", "message_chat_bot"})
# The `sent_via` values Dashly documents. They say which app a message came through, not who
# wrote it (the docs show `app_chrome` on an operator's reply); a rule's `channels` may name
# others, with a `rules check` warning.
KNOWN_CHANNELS = frozenset(
    {
        "web_user",
        "web_panel",
        "email_user",
        "email_admin",
        "app_android",
        "app_chrome",
        "app_desktop",
        "message_auto",
        "message_manual",
    }
)
MAX_ID_DIGITS = 30
# Tags read of one part at most (a conversation carries a handful).
MAX_TAGS = 100
# DASHLY_ADMIN_ID's default names the account's default admin, whose Admin object in a part
# has this `type` (a person's has "admin").
DEFAULT_ADMIN = "default_admin"


class PartError(ValueError):
    """A webhook whose conversation part cannot be used; the message is for a person."""


@dataclass(frozen=True)
class Part:
    """One ConversationPart, with every id as a string of digits."""

    id: str
    conversation: str
    type: str
    body: str = ""
    sent_via: str = ""
    random_id: int | None = None
    author_id: str | None = None
    author_type: str = ""
    # The admin the conversation is assigned to (`assignee`), None when unassigned or unsaid.
    assignee_id: str | None = None
    assignee_type: str = ""
    # The conversation's tags as the part reports them (`conversation_tags`).
    tags: frozenset[str] = frozenset()

    @property
    def is_lead_message(self) -> bool:
        return self.type == LEAD_MESSAGE

    @property
    def is_automatic(self) -> bool:
        return self.sent_via in AUTOMATIC_SENDERS

    def is_from_bot_admin(self, admin_id: str) -> bool:
        """Whether the part's author is the admin the bot speaks as (any other is a person)."""
        return is_bot_admin(admin_id, self.author_id, self.author_type)

    def is_assigned_to_a_person(self, admin_id: str) -> bool:
        """Whether the part says its conversation is assigned to an admin other than the
        bot's own (QUIET_WHEN_ASSIGNED)."""
        if self.assignee_id is None and not self.assignee_type:
            return False
        return not is_bot_admin(admin_id, self.assignee_id, self.assignee_type)


def is_bot_admin(admin_id: str, found_id: str | None, found_type: str) -> bool:
    """Whether an Admin object is the one the bot speaks as: the Admin whose `id` is
    DASHLY_ADMIN_ID, or, with `default_admin`, one whose `type` is `default_admin`. The one
    test of it, for the echo of a reply and for an assignment alike."""
    if admin_id == DEFAULT_ADMIN:
        return found_type == DEFAULT_ADMIN
    return found_id == admin_id


def digits(value: Any, name: str) -> str:
    """An id as an opaque digit string; integers and 19-digit strings both arrive."""
    if isinstance(value, bool):
        raise PartError(f"{name} must be a number, not {json.dumps(value)}")
    text = str(value) if isinstance(value, int) else value
    if not isinstance(text, str) or not text.isascii() or not text.isdigit():
        raise PartError(f"{name} must be all digits")
    if len(text) > MAX_ID_DIGITS:
        raise PartError(f"{name} is too long")
    return text


def decode_conversation(raw: Any) -> dict[str, Any]:
    """The `conversation` field: a JSON string, base64 of one, or (in a JSON body) an object."""
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        raise PartError("'conversation' must hold a JSON object")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise PartError("'conversation' is nested too deeply") from None
    except ValueError:
        value = _json_from_base64(raw)
    if not isinstance(value, dict):
        raise PartError("'conversation' must hold a JSON object")
    return value


def _json_from_base64(raw: str) -> Any:
    compact = "".join(raw.split())
    if compact.isascii():
        padded = (compact + "=" * (-len(compact) % 4)).encode("ascii")
        for altchars in (None, b"-_"):  # standard, then URL-safe alphabet
            try:
                return json.loads(base64.b64decode(padded, altchars=altchars, validate=True))
            except RecursionError:
                raise PartError("'conversation' is nested too deeply") from None
            except (ValueError, binascii.Error):
                continue
    raise PartError("'conversation' is neither JSON nor base64-encoded JSON")


def parse_part(data: dict[str, Any]) -> Part:
    """Validate the fields we rely on; raise PartError saying which one is wrong."""
    for key in ("id", "conversation", "type"):
        if data.get(key) in (None, ""):
            raise PartError(f"the conversation part has no {key!r}")
    part_type = data["type"]
    if not isinstance(part_type, str):
        raise PartError("the part's 'type' must be a string")
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        raise PartError("the part's 'body' must be a string")
    sent_via = data.get("sent_via")
    random_id = data.get("random_id")
    return Part(
        id=digits(data["id"], "the part's 'id'"),
        conversation=digits(data["conversation"], "the part's 'conversation'"),
        type=clean(part_type)[:64],
        body=clean(body or ""),
        sent_via=clean(sent_via)[:64] if isinstance(sent_via, str) else "",
        random_id=_optional_int(random_id),
        author_id=_author_id(data.get("from")),
        author_type=_author_type(data.get("from")),
        assignee_id=_author_id(data.get("assignee"))
        if isinstance(data.get("assignee"), dict)
        else None,
        assignee_type=_author_type(data.get("assignee")),
        tags=_tags(data.get("conversation_tags")),
    )


def _optional_int(value: Any) -> int | None:
    """A random_id as a number a database column holds (0 to 2**63 - 1), or None."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    return None


def _tags(value: Any) -> frozenset[str]:
    """`conversation_tags`: a list of tag names (other shapes and non-texts are no tags)."""
    if not isinstance(value, list):
        return frozenset()
    return frozenset(clean(tag)[:255] for tag in value[:MAX_TAGS] if isinstance(tag, str))


def _author_type(value: Any) -> str:
    """An Admin object's `type` ("admin", "default_admin"); "" for a lead's bare id."""
    kind = value.get("type") if isinstance(value, dict) else None
    return clean(kind)[:32] if isinstance(kind, str) else ""


def _author_id(value: Any) -> str | None:
    """A lead's user id (`from` is the id itself); an admin object's `id` otherwise."""
    if isinstance(value, dict):
        value = value.get("id")
    try:
        return digits(value, "from") if value not in (None, "") else None
    except PartError:
        return None
