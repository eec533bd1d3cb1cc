"""The values the store takes and gives: conversation memory, replies to queue, outbox items."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.actions import Action, action_from_json
from app.replies import NewReply


class OutboxStatus(StrEnum):
    """Where a queued reply or call stands."""

    PENDING = "pending"  # due now or later
    SENDING = "sending"  # claimed by a worker, under a lease
    DONE = "done"
    DRY_RUN = "dry_run"  # logged, not sent: no API key
    DEAD = "dead"  # failed for good, or out of time: listed, never dropped
    CANCELLED = "cancelled"  # a person took over first


class FailureKind(StrEnum):
    """Why a reply died: what /healthz tells an uptime monitor, without reading error texts."""

    KEY_REJECTED = "key_rejected"  # 401 or 403: the API key is wrong or lacks a scope
    REFUSED = "refused"  # another 4xx: Dashly will not take this reply
    GAVE_UP = "gave_up"  # kept failing (5xx, timeouts) until the delivery window closed
    ANSWER_BROKEN = "answer_broken"  # its answer template could not be rendered
    UNKNOWN = "unknown"  # died before kinds were recorded


@dataclass(frozen=True)
class LeadOutcome:
    """What became of a lead message: recorded for insight, with the reply to queue if any.
    `text` (normalised) is kept only for messages no rule answered."""

    status: str
    rule_id: str | None = None
    fallback: bool = False
    reason: str = ""
    text: str | None = None
    reply: NewReply | None = None
    sent_via: str = ""
    # The conversation's tags as the part reported them (kept with the text, for replay).
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StoredMessage:
    """A lead message whose text is kept, with what replay needs to judge it as it was."""

    received_at: float
    status: str
    rule_id: str | None
    fallback: bool
    text: str
    sent_via: str = ""
    tags: frozenset[str] = frozenset()
    # Whether it was the conversation's first lead message recorded here.
    first_message: bool = True


@dataclass(frozen=True)
class OutboxItem:
    """A queued reply as the outbox holds it."""

    id: int
    part_id: str
    conversation: str
    rule_id: str
    random_id: int
    actions: tuple[Action, ...]
    step: int
    status: str
    attempts: int
    created_at: float
    deadline: float
    next_attempt_at: float
    last_error: str | None
    # The steps that failed for good, as (kind, why), the rest having gone on.
    failed_steps: tuple[tuple[str, str], ...] = ()
    # Since when the reply's call may have reached Dashly unknown to us (a timeout, a 5xx, a
    # worker that died mid-call), and when its echo arrived: None while neither happened.
    unsure_since: float | None = None
    echoed_at: float | None = None
    # What the reply says, as its echo is compared (None until it is rendered).
    reply_key: str | None = None
    # When a claim read the conversation: its last human operator's message and its handoff.
    operator_at: float | None = None
    handed_off_at: float | None = None
    # When a lead's part last said a person was assigned (QUIET_WHEN_ASSIGNED).
    assigned_at: float | None = None


@dataclass(frozen=True)
class Finished:
    """A reply whose actions were all performed: `done`, `dry_run` (logged, not sent), or
    `cancelled` (a human took over first: only the calls that stay useful were made, `reason`
    says why; `forget_answer` when its reply was dropped, so the rule has not answered there)."""

    item_id: int
    status: str
    at: float
    reason: str | None = None
    forget_answer: bool = False
    # The steps that failed for good while the rest went on, as (kind, why).
    failed_steps: tuple[tuple[str, str], ...] = ()


def outbox_item(row: Sequence[Any]) -> OutboxItem:
    values = list(row)
    values[5] = tuple(action_from_json(action) for action in json.loads(values[5]))
    values[13] = tuple(tuple(pair) for pair in json.loads(values[13] or "[]"))
    return OutboxItem(*values)
