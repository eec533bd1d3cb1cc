"""Performing one queued reply: its actions in order through the Dashly client, and what
to do when a call fails (retry with backoff, or give up and keep it as dead)."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from app.dashly.client import ApiFailure, DashlyClient
from app.delivery.calls import Calls
from app.logs import Trouble
from app.rules.templates import AnswerTemplateError
from app.store import Finished, OutboxItem, Store, StoreUnavailable

log = logging.getLogger(__name__)

# A claimed reply comes due again after this long if its worker died mid-call: that is the
# window in which a reply can be sent twice (README, Guarantees). It must outlast the longest
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
SILENCED_BY_A_HUMAN = frozenset({"typing", "reply", "note", "close", "event"})


def overtaken(item: OutboxItem, quiet_minutes: int) -> str | None:
    """Why a queued item must no longer speak (SPEC §5.6), or None: a human operator wrote in
    its conversation, or it was handed over, after the item was decided."""
    if item.handed_off_at is not None and item.handed_off_at > item.created_at:
        return "the conversation was handed to an operator after this reply was decided"
    if quiet_minutes > 0 and item.operator_at is not None and item.operator_at > item.created_at:
        return "an operator wrote in the conversation after this reply was decided"
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
    ) -> None:
        self.store = store
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
        over first). Delivered: what to record (the caller records it); otherwise the retry or
        the burial is recorded here and None returned."""
        started = time.perf_counter()
        reason = overtaken(item, self.quiet_minutes)
        remaining = range(item.step, len(item.actions))
        dropped = [s for s in remaining if reason and item.actions[s]["do"] in SILENCED_BY_A_HUMAN]
        step, remarks = item.step, []
        try:
            for step in remaining:
                action = item.actions[step]
                if step in dropped:
                    continue
                if action["do"] == "typing":
                    self._type_then_wait(item, step, action["seconds"])
                    return None
                remark = self.calls.perform(item, action)
                if remark:
                    remarks.append(remark)
                if step + 1 < len(item.actions):
                    self._record_step(item.id, step + 1)
        except ApiFailure as failure:
            self._failed(item.id, item.conversation, item.deadline, item.attempts, step, failure)
            return None
        except AnswerTemplateError as error:
            self.store.bury(item.id, str(error), self.clock())
            log.error("at=error event=reply_dead id=%d error=%r", item.id, str(error))
            return None
        if dropped:
            return self._cancelled(item, [item.actions[s]["do"] for s in dropped], reason)
        status = "dry_run" if self.client is None else "done"
        log.info(
            "at=info event=delivered id=%d conversation=%s rule=%s attempt=%d status=%s ms=%d",
            item.id,
            item.conversation,
            item.rule_id,
            item.attempts,
            status,
            (time.perf_counter() - started) * 1000,
        )
        return Finished(item.id, status, self.clock(), "; ".join(remarks) or None)

    def _cancelled(self, item: OutboxItem, dropped: list[str], reason: str | None) -> Finished:
        log.info(
            "at=info event=cancelled id=%d conversation=%s rule=%s dropped=%s reason=%r",
            item.id,
            item.conversation,
            item.rule_id,
            ",".join(dropped),
            reason,
        )
        forget = "reply" in dropped  # the rule has not answered that conversation
        return Finished(item.id, "cancelled", self.clock(), reason, forget_answer=forget)

    def _type_then_wait(self, item: OutboxItem, step: int, seconds: float) -> None:
        """Show "typing…", then put the item back to come due that long after: the wait
        holds no sender, so a hundred conversations typing at once delay nobody else."""
        self.calls.show_typing(item)
        self.store.defer(item.id, step + 1, self.clock() + seconds)

    def _record_step(self, item_id: int, step: int) -> None:
        """Record that the actions before `step` are done and renew the claim. While the
        store refuses, keep trying (the lease this worker renews keeps the item its own):
        the call just made must not be made again because it could not be written down.
        Only a stopping worker gives up, leaving the item to come due when its lease ends."""
        delay = RECORD_RETRY_FIRST_SECONDS
        while True:
            try:
                self.store.complete_step(item_id, step, self.clock() + self.lease_seconds)
            except StoreUnavailable as error:
                self._trouble.failed(str(error))
                if self.stop.wait(delay):
                    raise
                delay = min(delay * 2, RECORD_RETRY_MAX_SECONDS)
            else:
                self._trouble.recovered()
                return

    def _failed(
        self,
        item_id: int,
        conversation: str,
        deadline: float,
        attempts: int,
        step: int,
        failure: ApiFailure,
    ) -> None:
        now = self.clock()
        if failure.status in (401, 403) and not self._warned_about_token:
            self._warned_about_token = True
            log.critical(
                "at=critical event=api_key_rejected status=%d hint=%r",
                failure.status,
                "Dashly refused DASHLY_API_TOKEN: check the API key in Dashly's settings",
            )
        error = str(failure)
        when = now + retry_delay(attempts, failure.retry_after, self.rng)
        if failure.retryable and when < deadline:
            self.store.retry_later(item_id, when, error)
            log.warning(
                "at=warning event=delivery_retry id=%d conversation=%s step=%d attempt=%d "
                "in_s=%.1f error=%r",
                item_id,
                conversation,
                step,
                attempts,
                when - now,
                error,
            )
        else:
            self.store.bury(item_id, error, now)
            log.error(
                "at=error event=reply_dead id=%d conversation=%s step=%d attempts=%d error=%r",
                item_id,
                conversation,
                step,
                attempts,
                error,
            )
