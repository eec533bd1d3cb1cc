"""What happens to one conversation part: the decision, the store, and a nudge to delivery."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from app.dashly.parts import ADMIN_MESSAGE, Part
from app.handling.decide import (
    DELIVERY_WINDOW_SECONDS,
    Decision,
    Outcome,
    decide,
)
from app.rules.live import LiveRules
from app.store import LeadOutcome, Store
from app.text import as_written, echo_key, normalise

# Longer messages are cut: the start says what they are about.
MAX_KEPT_TEXT = 1000
# The echo of a reply comes seconds after its call, and a call is made at most the delivery
# window after the lead's message: an operator's part that says what a reply queued this long
# ago says is taken for its echo.
ECHO_SECONDS = DELIVERY_WINDOW_SECONDS + 5 * 60


@dataclass(frozen=True)
class Handler:
    """Turns a parsed part into a Decision; the reply, if any, is committed before it returns."""

    rules: LiveRules
    store: Store
    quiet_minutes: int
    wake_delivery: Callable[[], None]
    keep_texts: bool = True
    admin_id: str = "default_admin"
    typing_seconds: int = 0
    quiet_when_assigned: bool = False
    clock: Callable[[], float] = time.time

    def handle(self, part: Part) -> Decision:
        if part.is_lead_message:
            return self._lead_message(part)
        if part.type == ADMIN_MESSAGE:
            return self._admin_message(part)
        return Decision(Outcome.IGNORED, f"{part.type} part")

    def _lead_message(self, part: Part) -> Decision:
        now = self.clock()
        rules = self.rules.current
        at = datetime.fromtimestamp(now, UTC)
        # Normalised once, for matching and for the insight record; matching happens before
        # the transaction so the database lock is held only briefly.
        normalised = normalise(part.body)
        matches = list(rules.iter_matches_normalised(normalised, at, tags=part.tags))
        fallbacks = list(rules.active_fallbacks(at, normalised, part.tags))
        assigned = self.quiet_when_assigned and part.is_assigned_to_a_person(self.admin_id)
        may_answer = bool(matches or fallbacks)
        with self.store.lead_message(part.id, part.conversation, now, may_answer) as recording:
            decision = decide(
                part_id=part.id,
                conversation=part.conversation,
                lead_id=part.author_id,
                matches=matches,
                fallbacks=fallbacks,
                memory=recording.memory,
                now=now,
                quiet_minutes=self.quiet_minutes,
                channel=part.sent_via,
                message=part.body,
                typing_seconds=self.typing_seconds,
                assigned_to_a_person=assigned,
            )
            recording.outcome = self._outcome(decision, part)
        if recording.repeated:
            return Decision(Outcome.DUPLICATE, "part already handled")
        if assigned:  # a reply still waiting there is cancelled
            self.store.note_assignment(part.conversation, now)
        if decision.reply is not None:
            self.wake_delivery()
        return decision

    def _outcome(self, decision: Decision, part: Part) -> LeadOutcome:
        """The insight record. The text of a message a rule or nobody answered is kept while
        retention allows, as the lead wrote it (markup removed; /admin shows it so):
        unanswered ones are what the owner may want a rule for, and replay runs edited rules
        over both."""
        fallback = decision.match is not None and decision.match.rule.fallback
        considered = decision.status in (Outcome.REPLIED, Outcome.NO_MATCH)
        text = as_written(part.body)[:MAX_KEPT_TEXT] if considered and self.keep_texts else None
        return LeadOutcome(
            status=decision.status,
            rule_id=decision.rule_id,
            fallback=fallback,
            reason=decision.reason,
            text=text or None,
            reply=decision.reply,
            sent_via=part.sent_via,
            tags=part.tags,
        )

    def _admin_message(self, part: Part) -> Decision:
        if part.is_automatic:
            return Decision(Outcome.IGNORED, "automatic message")
        now = self.clock()
        if self._is_our_reply(part, now):
            # Our own reply coming back: neither operator activity nor something to answer.
            return Decision(Outcome.IGNORED, "our own reply")
        if not self.store.record_operator_message(part.id, part.conversation, now):
            return Decision(Outcome.DUPLICATE, "part already handled")
        return Decision(Outcome.IGNORED, "operator message")

    def _is_our_reply(self, part: Part, now: float) -> bool:
        """Our random_id echoed, or (the echo missing) the text of a reply we queued here
        lately, from the bot's own admin (an operator who sends the bot's words is a human)."""
        key = echo_key(part.body) if part.is_from_bot_admin(self.admin_id) else ""
        since = now - ECHO_SECONDS
        return self.store.is_our_reply(part.conversation, part.random_id, key, since, now)
