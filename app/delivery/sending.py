"""Performing one queued reply: its actions in order through the Dashly client, and what
to do when a call fails (retry with backoff, or give up and keep it as dead)."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from app.actions import Action, Typing
from app.dashly.client import ApiFailure, DashlyClient
from app.delivery.calls import Calls
from app.logs import Trouble
from app.rules.templates import AnswerTemplateError
from app.store import FailureKind, Finished, OutboxItem, OutboxStatus, Store, StoreUnavailable

log = logging.getLogger(__name__)

# A claimed reply comes due again after this long if its worker died mid-call (then it is
# looked for before it is sent again: docs/operations.md, Guarantees). It must outlast the longest
# step: a lead-name look-up (connect 2 s + read 3 s) and then the call (connect 3.05 s + read
# 10 s), 18 s, plus a margin; each completed step renews it.
LEASE_SECONDS = 30.0
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 120.0
# A completed call whose record the store refused is recorded again after these waits, for as
# long as the worker lives: the call is never repeated because the store failed.
RECORD_RETRY_FIRST_SECONDS = 0.25
RECORD_RETRY_MAX_SECONDS = 5.0
# What a human's taking over makes unwelcome: the bot's own words and what they trigger. The
# tags, what the lead gave (props) and the hand-over still go out.
# A reply whose call's outcome is unknown and whose conversation cannot be read (a key without
# `conversations-read`) is sent again only when its echo has not come this long after the
# call: Dashly posts every operator-direction message to the webhook within seconds.
ECHO_WAIT_SECONDS = 30.0
SILENCED_BY_A_HUMAN = frozenset({"typing", "reply", "note", "close", "event"})


def overtaken(item: OutboxItem, quiet_minutes: int) -> str | None:
    """Why a queued item must no longer speak (docs/contract.md, delivery), or None: a human
    operator wrote in its conversation, or it was handed over, after the item was decided."""
    if item.handed_off_at is not None and item.handed_off_at > item.created_at:
        return "the conversation was handed to an operator after this reply was decided"
    if quiet_minutes > 0 and item.operator_at is not None and item.operator_at > item.created_at:
        return "an operator wrote in the conversation after this reply was decided"
    if item.assigned_at is not None and item.assigned_at > item.created_at:
        return "the conversation was assigned to an operator after this reply was decided"
    return None


def retry_delay(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Exponential backoff with jitter; never sooner than the API's Retry-After."""
    ceiling = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0))
    delay = rng.uniform(ceiling / 2, ceiling)  # jitter: workers that failed together spread out
    return max(delay, retry_after or 0.0)


class Sender:
    """Performs a claimed reply's remaining actions; records a retry or a burial itself, and
    hands back what to record when the reply was delivered."""

    def __init__(
        self,
        store: Store,
        client: DashlyClient | None,
        clock: Callable[[], float],
        quiet_minutes: int = 0,
        lease_seconds: float = LEASE_SECONDS,
        stop: threading.Event | None = None,
        echo_wait_seconds: float = ECHO_WAIT_SECONDS,
    ) -> None:
        self.store = store
        self.echo_wait_seconds = echo_wait_seconds
        self.client = client
        self.clock = clock
        self.calls = Calls(store, client)
        self.quiet_minutes = quiet_minutes
        self.lease_seconds = lease_seconds
        self.stop = stop or threading.Event()
        self.rng = random.Random()
        self._warned_about_token = False
        self._trouble = Trouble("delivery-record")

    def send(self, item: OutboxItem) -> Finished | None:
        """Perform the reply's remaining actions (without the bot's words when a human took
        over first). A step after the reply that fails for good is listed and the rest go on.
        Delivered: what to record (the caller records it); otherwise the retry, the wait or
        the burial is recorded here and None returned."""
        started = time.perf_counter()
        reason = overtaken(item, self.quiet_minutes)
        remaining = range(item.step, len(item.actions))
        dropped = [s for s in remaining if reason and item.actions[s].kind in SILENCED_BY_A_HUMAN]
        failed, remarks = list(item.failed_steps), []
        # Why each step of this pass failed for good (the reply's, if it did, is the item's).
        kinds: dict[str, FailureKind] = {}
        for step in remaining:
            action, kind = item.actions[step], item.actions[step].kind
            if step in dropped:
                continue
            if isinstance(action, Typing):
                self._type_then_wait(item, step, action.seconds)
                return None
            already_there: bool | None = False
            if kind == "reply" and item.unsure_since is not None and self.client is not None:
                already_there = self._reply_already_there(item)
                if already_there is None:
                    self.store.defer(item.id, step, item.unsure_since + self.echo_wait_seconds)
                    return None
            if kind == "close" and any(done == "reply" for done, _ in failed):
                failed.append(("close", "not sent: the reply was not delivered"))
            elif not already_there:
                outcome = self._perform(item, step, action, failed, kinds)
                if outcome is None:
                    return None
                remarks += outcome
            if step + 1 < len(item.actions):
                changed = len(failed) != len(item.failed_steps)
                self._record_step(item.id, step + 1, failed if changed else None)
        return self._finished(item, failed, kinds, remarks, dropped, reason, started)

    def _perform(
        self,
        item: OutboxItem,
        step: int,
        action: Action,
        failed: list[tuple[str, str]],
        kinds: dict[str, FailureKind],
    ) -> list[str] | None:
        """One step's call: its remark (a list, maybe empty), or None when the item was put
        back for a retry or buried. A failure for good is added to `failed`."""
        kind = action.kind
        try:
            remark = self.calls.perform(item, action)
        except ApiFailure as failure:
            if self._retry_later(item, step, failure):
                return None
            if kind == "close" and already_closed(self.client, item.conversation):
                return []
            self._failed_for_good(item, kind, failure)
            failed.append((kind, str(failure)))
            kinds[kind] = failure_kind(failure)
            return []
        except AnswerTemplateError as error:
            self.store.bury(item.id, str(error), self.clock(), FailureKind.ANSWER_BROKEN)
            log.error("event=reply_dead id=%d error=%r", item.id, str(error))
            return None
        return [remark] if remark else []

    def _finished(
        self,
        item: OutboxItem,
        failed: list[tuple[str, str]],
        kinds: dict[str, FailureKind],
        remarks: list[str],
        dropped: list[int],
        reason: str | None,
        started: float,
    ) -> Finished | None:
        """What the item's end is: dead when its reply (or its only call) failed for good,
        cancelled when a human overtook it, done otherwise, the failed steps listed."""
        main = item.actions[0].kind if len(item.actions) == 1 else "reply"
        main_failed = next((why for kind, why in failed if kind == main), None)
        if main_failed is not None:
            start = next(i for i, a in enumerate(item.actions) if a.kind == main)
            why = kinds.get(main, FailureKind.UNKNOWN)
            self.store.bury(item.id, main_failed, self.clock(), why, failed, step=start)
            log.error(
                "event=reply_dead id=%d conversation=%s attempts=%d error=%r",
                item.id,
                item.conversation,
                item.attempts,
                main_failed,
            )
            return None
        if dropped:
            return self._cancelled(item, [item.actions[s].kind for s in dropped], reason)
        status = OutboxStatus.DRY_RUN if self.client is None else OutboxStatus.DONE
        log.info(
            "event=delivered id=%d conversation=%s rule=%s attempt=%d status=%s ms=%d",
            item.id,
            item.conversation,
            item.rule_id,
            item.attempts,
            status,
            (time.perf_counter() - started) * 1000,
        )
        return Finished(
            item.id, status, self.clock(), "; ".join(remarks) or None, failed_steps=tuple(failed)
        )

    def _reply_already_there(self, item: OutboxItem) -> bool | None:
        """Whether Dashly has a reply whose earlier call's outcome is unknown: its echo came,
        or the conversation's messages hold it. None while that cannot be told and the wait
        for the echo has not passed: after it, a reply with neither is sent again."""
        assert self.client is not None and item.unsure_since is not None
        if item.echoed_at is not None:
            found: bool | None = True
        elif item.reply_key is None:
            found = False  # never rendered, so never sent
        else:
            try:
                found = self.client.has_reply(item.conversation, item.reply_key, item.unsure_since)
            except ApiFailure as failure:
                waited = self.clock() >= item.unsure_since + self.echo_wait_seconds
                log.warning(
                    "event=reply_unknown id=%d conversation=%s error=%r next=%s",
                    item.id,
                    item.conversation,
                    str(failure),
                    "resend" if waited else "wait_for_echo",
                )
                found = False if waited else None
        if found:
            log.info(
                "event=reply_already_delivered id=%d conversation=%s",
                item.id,
                item.conversation,
            )
        return found

    def _failed_for_good(self, item: OutboxItem, kind: str, failure: ApiFailure) -> None:
        """Log a step that failed for good; a failed hand-over gives the bot its voice back."""
        if kind == "assign":
            self.store.lift_hand_over(item.conversation, item.created_at)
        log.error(
            "event=step_failed id=%d conversation=%s rule=%s step=%s error=%r",
            item.id,
            item.conversation,
            item.rule_id,
            kind,
            str(failure),
        )

    def _cancelled(self, item: OutboxItem, dropped: list[str], reason: str | None) -> Finished:
        log.info(
            "event=cancelled id=%d conversation=%s rule=%s dropped=%s reason=%r",
            item.id,
            item.conversation,
            item.rule_id,
            ",".join(dropped),
            reason,
        )
        forget = "reply" in dropped  # the rule has not answered that conversation
        return Finished(item.id, OutboxStatus.CANCELLED, self.clock(), reason, forget_answer=forget)

    def _type_then_wait(self, item: OutboxItem, step: int, seconds: float) -> None:
        """Show "typing…", then put the item back to come due that long after: the wait
        holds no sender, so a hundred conversations typing at once delay nobody else."""
        self.calls.show_typing(item)
        self.store.defer(item.id, step + 1, self.clock() + seconds)

    def _record_step(
        self, item_id: int, step: int, failed: list[tuple[str, str]] | None = None
    ) -> None:
        """Record that the actions before `step` are done and renew the claim. While the
        store refuses, keep trying (the lease this worker renews keeps the item its own):
        the call just made must not be made again because it could not be written down.
        Only a stopping worker gives up, leaving the item to come due when its lease ends."""
        delay = RECORD_RETRY_FIRST_SECONDS
        while True:
            try:
                self.store.complete_step(item_id, step, self.clock() + self.lease_seconds, failed)
            except StoreUnavailable as error:
                self._trouble.failed(str(error))
                if self.stop.wait(delay):
                    raise
                delay = min(delay * 2, RECORD_RETRY_MAX_SECONDS)
            else:
                self._trouble.recovered()
                return

    def _retry_later(self, item: OutboxItem, step: int, failure: ApiFailure) -> bool:
        """Record a retry of the step when trying again can help and there is time; False
        when it failed for good."""
        now = self.clock()
        if failure.status in (401, 403) and not self._warned_about_token:
            self._warned_about_token = True
            log.critical(
                "event=api_key_rejected status=%d hint=%r",
                failure.status,
                "Dashly refused DASHLY_API_TOKEN: check the API key in Dashly's settings",
            )
        error = str(failure)
        when = now + retry_delay(item.attempts, failure.retry_after, self.rng)
        if not (failure.retryable and when < item.deadline):
            return False
        unsure = failure.unsure and item.actions[step].kind == "reply"
        self.store.retry_later(item.id, when, error, unsure_since=now if unsure else None)
        log.warning(
            "event=delivery_retry id=%d conversation=%s step=%d attempt=%d "
            "in_s=%.1f unsure=%s error=%r",
            item.id,
            item.conversation,
            step,
            item.attempts,
            when - now,
            "yes" if unsure else "no",
            error,
        )
        return True


def failure_kind(failure: ApiFailure) -> FailureKind:
    """Why a call failed for good, as /healthz tells it."""
    if failure.status in (401, 403):
        return FailureKind.KEY_REJECTED
    return FailureKind.GAVE_UP if failure.retryable else FailureKind.REFUSED


def already_closed(client: DashlyClient | None, conversation: str) -> bool:
    """Whether a conversation whose close was refused is closed already (that is done)."""
    try:
        return client is not None and client.is_closed(conversation)
    except ApiFailure:
        return False
