"""Which reply, if any, a lead message gets (docs/contract.md, which messages get which reply).
Pure: no I/O, no clock, no database."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.actions import Action, Assign, Close, Event, Note, Props, Reply, Tag, Typing
from app.replies import ConversationMemory, NewReply
from app.rules.model import Rule, RuleMatch
from app.rules.templates import Answer
from app.text import as_written


class Outcome(StrEnum):
    """What became of a part: the webhook's `status` (docs/contract.md, HTTP) and what is
    stored with a lead message."""

    REPLIED = "replied"  # a reply was queued
    IGNORED = "ignored"  # not a lead message, or the bot stays silent
    NO_MATCH = "no_match"
    DUPLICATE = "duplicate"  # this part was handled already


# Delivery keeps trying for this long after the lead's message arrived (docs/contract.md, delivery).
DELIVERY_WINDOW_SECONDS = 15 * 60
# A note quotes at most this much of the lead's message.
MAX_QUOTE = 1000


@dataclass(frozen=True)
class Decision:
    """The webhook's answer for one part, and the reply to queue when there is one."""

    status: Outcome
    reason: str = ""
    match: RuleMatch | None = None
    reply: NewReply | None = None

    @property
    def rule_id(self) -> str | None:
        return self.match.rule.id if self.match else None


def random_id_for(part_id: str, call: str = "reply") -> int:
    """A 31-bit id derived from the lead's part id and the call (reply, note, close): the same
    on every retry, in every process."""
    digest = hashlib.sha256(f"{call}:{part_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


def silence_reason(memory: ConversationMemory, now: float, quiet_minutes: int) -> str | None:
    """Why the bot must stay silent in this conversation now, or None."""
    if memory.handed_off_at is not None:
        return "handed off to an operator"
    operator_at = memory.operator_at
    if quiet_minutes and operator_at is not None and now - operator_at < quiet_minutes * 60:
        return "an operator wrote recently"
    return None


def decide(
    *,
    part_id: str,
    conversation: str,
    lead_id: str | None,
    matches: Sequence[RuleMatch],
    fallbacks: Iterable[Rule],
    memory: ConversationMemory,
    now: float,
    quiet_minutes: int,
    channel: str = "",
    message: str = "",
    typing_seconds: int = 0,
    assigned_to_a_person: bool = False,
    pick: Callable[[Sequence[Answer]], Answer] = random.choice,
) -> Decision:
    """The first matching rule not yet used here (unless `repeat`) that answers on this
    channel (the part's `sent_via`), else the first such fallback. `message` (the part's
    body) is what a note may quote; `typing_seconds` shows "typing…" that long before the answer;
    `assigned_to_a_person` (QUIET_WHEN_ASSIGNED and the part says so) keeps the bot silent."""
    assigned = "assigned to an operator" if assigned_to_a_person else None
    if reason := silence_reason(memory, now, quiet_minutes) or assigned:
        return Decision(Outcome.IGNORED, reason)

    def available(rule: Rule) -> bool:
        fresh = rule.repeat or rule.id not in memory.answered_rules
        first = rule.fits_first_message(memory.earlier_lead_message)
        return fresh and first and rule.answers_on(channel)

    chosen = next((m for m in matches if available(m.rule)), None)
    if chosen is None:
        fallback = next((rule for rule in fallbacks if available(rule)), None)
        if fallback is None:
            why = "no rule matched" if not matches else "already answered"
            return Decision(Outcome.NO_MATCH, why)
        chosen = RuleMatch(fallback, "fallback")
    rule, said = chosen.rule, Said(part_id, message)
    actions = reply_actions(rule, pick(rule.answers), chosen.groups, lead_id, said, typing_seconds)
    reply = NewReply(
        part_id=part_id,
        conversation=conversation,
        rule_id=rule.id,
        random_id=random_id_for(part_id),
        actions=tuple(actions),
        deadline=now + DELIVERY_WINDOW_SECONDS,
        hands_off=rule.assign is not None,
        lead_actions=lead_actions(rule, chosen.groups, lead_id),
    )
    return Decision(Outcome.REPLIED, chosen.matched, chosen, reply)


@dataclass(frozen=True)
class Said:
    """The lead message being answered: its part id and its text (as received)."""

    part_id: str = ""
    text: str = ""


def reply_actions(
    rule: Rule,
    answer: Answer,
    groups: dict[str, str],
    lead_id: str | None,
    said: Said = Said(),
    typing_seconds: int = 0,
) -> list[Action]:
    """What delivery does, in order (docs/contract.md, delivery): "typing…", the reply, the
    hand-over, the note, the tags, closing. Each is a step of one outbox item: done once, in this
    order; the hand-over comes right after the reply, so a note or a tag that fails cannot keep
    it back."""
    actions: list[Action] = []
    if typing_seconds:
        actions.append(Typing(typing_seconds))
    actions.append(text_action(answer, groups, lead_id))
    if rule.assign:
        actions.append(Assign(rule.assign))
    if rule.note is not None:
        actions.append(note_action(rule.note, groups, lead_id, said))
    actions += [Tag(tag) for tag in rule.tags]
    if rule.close:
        actions.append(Close(random_id_for(said.part_id, "close")))
    return actions


def note_action(note: Answer, groups: dict[str, str], lead_id: str | None, said: Said) -> Note:
    """The note for the operators, rendered at delivery: a note Dashly refuses as too long
    (`ReplyTooBig`) is sent again without the lead's message."""
    return Note(
        random_id=random_id_for(said.part_id, "note"),
        template=note.source,
        match=groups,
        message=quote(as_written(said.text)),
        lead=lead_id if lead_id and note.uses_lead else None,
    )


def quote(text: str, limit: int = MAX_QUOTE) -> str:
    """The lead's message as a note quotes it: at most `limit` characters, a cut one ending
    in "…" (Dashly publishes no limit for a reply's length)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def text_action(answer: Answer, groups: dict[str, str], lead_id: str | None) -> Reply:
    """The text of a reply: rendered now, or (when it uses the lead's name) at delivery,
    after the name is fetched: the webhook never waits on it."""
    if not answer.uses_lead:
        return Reply(body=answer.render(groups))
    return Reply(template=answer.source, match=groups, lead=lead_id or None)


def lead_actions(rule: Rule, groups: dict[str, str], lead_id: str | None) -> tuple[Action, ...]:
    """The rule's calls on the lead (properties, an event), each queued on its own, so that
    one still goes out when the reply cannot. Templates are rendered at delivery."""
    if lead_id is None:
        return ()  # a part without its lead's id: nobody to set properties on
    found: list[Action] = []
    if rule.props:
        props = [[name, answer.source] for name, answer in rule.props]
        found.append(Props(lead=lead_id, props=props, match=groups))
    if rule.event:
        params = [[name, answer.source] for name, answer in rule.event_params]
        found.append(Event(lead=lead_id, event=rule.event, params=params, match=groups))
    return tuple(found)
