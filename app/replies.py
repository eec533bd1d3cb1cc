"""What a decision reads and makes: the conversation's memory, and the reply to queue with the
calls it makes. The store keeps both; the decision needs nothing else of it."""

from __future__ import annotations

from dataclasses import dataclass

from app.actions import Action


@dataclass(frozen=True)
class ConversationMemory:
    """What the service remembers of one conversation."""

    answered_rules: frozenset[str] = frozenset()
    operator_at: float | None = None
    handed_off_at: float | None = None
    # Whether a lead message of it was recorded before this one (its `first_message` rules).
    earlier_lead_message: bool = False


@dataclass(frozen=True)
class NewReply:
    """A reply to queue: the actions to perform in order (reply, then tags, then assign)."""

    part_id: str
    conversation: str
    rule_id: str
    random_id: int
    actions: tuple[Action, ...]
    deadline: float
    hands_off: bool = False
    # Calls on the lead (properties, an event), each queued as an item of its own.
    lead_actions: tuple[Action, ...] = ()
