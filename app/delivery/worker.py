"""The delivery worker: takes queued replies from the outbox and performs them, with retries."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.dashly.client import ApiFailure, DashlyClient
from app.rules.templates import AnswerTemplateError, compile_answer
from app.store import Finished, OutboxItem, Store, StoreUnavailable

log = logging.getLogger(__name__)

# Replies made by other workers, other dynos and retries are found by polling this often.
POLL_SECONDS = 1.0
# A claimed reply comes due again after this long if its worker died mid-call. It must outlast
# one call's timeouts (connect 3 s + read 10 s); each completed step renews it.
LEASE_SECONDS = 60.0
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 120.0
PRUNE_EVERY_SECONDS = 3600.0
# Calls to the API in flight at once per worker; they wait on the network, not the CPU.
SENDERS = 8
# Under load the claimer runs at most once per this many seconds: the replies and finished sends
# of that time share one transaction and one wake-up, where a round for each costs more CPU than
# the webhook that queued it. A reply to an idle service is still claimed at once.
ROUND_SECONDS = 0.02


def retry_delay(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Exponential backoff with jitter; never sooner than the API's Retry-After."""
    ceiling = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0))
    delay = rng.uniform(ceiling / 2, ceiling)  # jitter: workers that failed together spread out
    return max(delay, retry_after or 0.0)


class Delivery:
    """One per worker process: a claimer thread hands due replies to a few sender threads (a
    slow API then delays replies in parallel, not one after another). The claimer wakes at once
    for a new reply or a finished send (under load, at most once per ROUND_SECONDS), and polls
    for the rest; it records finished sends and claims new ones in one transaction."""

    def __init__(
        self,
        store: Store,
        client: DashlyClient | None,
        clock: Callable[[], float] = time.time,
        senders: int = SENDERS,
        text_retention_seconds: float = 14 * 86400,
    ) -> None:
        self.store = store
        self.client = client
        self.clock = clock
        self.rng = random.Random()
        self.senders = senders
        self.text_retention_seconds = text_retention_seconds
        self._changed = threading.Condition()
        self._woken = False  # guarded by _changed, like the two below
        self._sending = 0
        self._finished: list[Finished] = []
        self._stop = threading.Event()
        self._drain_until = 0.0
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._warned_about_token = False
        self._last_prune = 0.0

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self.senders, thread_name_prefix="delivery-send")
        self._thread = threading.Thread(target=self._run, name="delivery", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A reply was committed: send it now rather than at the next poll."""
        with self._changed:
            self._woken = True
            self._changed.notify()

    def stop(self, drain_seconds: float) -> None:
        """Finish the calls in flight, send what is due for up to `drain_seconds`, then stop."""
        self._drain_until = self.clock() + drain_seconds
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(drain_seconds + LEASE_SECONDS / 4)

    def _run(self) -> None:
        assert self._pool is not None
        last_round = time.monotonic() - ROUND_SECONDS
        while True:
            with self._changed:
                idle = self._stop.is_set() and self._sending == 0
                if not self._woken and not idle:
                    self._changed.wait(POLL_SECONDS)
            # Soon after the last round, wait for the rest of its window: what arrives meanwhile
            # joins this round.
            pause = last_round + ROUND_SECONDS - time.monotonic()
            if pause > 0:
                self._stop.wait(pause)
            last_round = time.monotonic()
            with self._changed:
                woken, self._woken = self._woken, False
                finished, self._finished = self._finished, []
                sending = self._sending
            stopping = self._stop.is_set()
            if stopping and self.clock() >= self._drain_until:
                self._keep(finished)
                break
            if not (stopping or woken or finished or self._due()):
                self._prune_quietly()
                continue
            claimed = self._record(finished, limit=self.senders - sending)
            with self._changed:
                self._sending += len(claimed)
            for item in claimed:
                self._pool.submit(self._send_and_report, item)
            if stopping and not claimed and sending == 0:
                break  # nothing in flight and nothing due: drained
        self._pool.shutdown(wait=True)  # the calls in flight end, then are recorded
        with self._changed:
            finished, self._finished = self._finished, []
        self._record(finished, limit=0)

    def _keep(self, finished: list[Finished]) -> None:
        """Put finished sends back, to be recorded with the next transaction."""
        with self._changed:
            self._finished[:0] = finished

    def _due(self) -> bool:
        """Whether a reply is due now: a cheap read, so an idle poll takes no write lock."""
        try:
            due_at = self.store.next_due_at()
        except Exception:
            log.exception("at=error event=claim_failed")
            return False
        return due_at is not None and due_at <= self.clock()

    def _record(self, finished: list[Finished], limit: int) -> list[OutboxItem]:
        """Record finished sends and claim up to `limit` due replies; on a store error the
        finished ones are kept for the next try (otherwise their lease would run out and they
        would be sent twice)."""
        if not finished and limit <= 0:
            return []
        try:
            return self.store.finish_and_claim(finished, self.clock(), LEASE_SECONDS, limit)
        except StoreUnavailable as error:
            log.error("at=error event=delivery_store_unavailable error=%r", str(error))
        except Exception:  # a thread that dies here would stop delivery for good
            log.exception("at=error event=claim_failed")
        self._keep(finished)
        return []

    def _send_and_report(self, item: OutboxItem) -> None:
        done = None
        try:
            done = self._send(item)
        except Exception:  # one bad reply must not stop delivery for everyone
            log.exception("at=error event=delivery_crashed id=%d", item.id)
        finally:
            with self._changed:
                self._sending -= 1
                if done is not None:
                    self._finished.append(done)
                self._woken = True
                self._changed.notify()

    def deliver_next(self) -> bool:
        """Claim and perform the next due reply in this thread, if any; True when one was."""
        item = self.store.claim_due(self.clock(), LEASE_SECONDS)
        if item is None:
            return False
        done = self._send(item)
        if done is not None:
            self.store.finish(done.item_id, done.status, done.at)
        return True

    def _send(self, item: OutboxItem) -> Finished | None:
        """Perform the reply's remaining actions. Delivered: what to record (the caller
        records it); otherwise the retry or the burial is recorded here and None returned."""
        started = time.perf_counter()
        step = item.step
        try:
            for step in range(item.step, len(item.actions)):
                self._perform(item.conversation, item.random_id, item.actions[step])
                if step + 1 < len(item.actions):
                    self.store.complete_step(item.id, step + 1, self.clock() + LEASE_SECONDS)
        except ApiFailure as failure:
            self._failed(item.id, item.conversation, item.deadline, item.attempts, step, failure)
            return None
        except AnswerTemplateError as error:
            self.store.bury(item.id, str(error), self.clock())
            log.error("at=error event=reply_dead id=%d error=%r", item.id, str(error))
            return None
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
        return Finished(item.id, status, self.clock())

    def _perform(self, conversation: str, random_id: int, action: dict[str, Any]) -> None:
        kind = action["do"]
        if kind == "reply":
            body = self._reply_body(action)
            if self.client is None:
                log.info("at=info event=dry_run conversation=%s body=%r", conversation, body)
            else:
                self.client.reply(conversation, body, random_id)
        elif self.client is None:
            log.info("at=info event=dry_run conversation=%s action=%s", conversation, kind)
        elif kind == "tag":
            self.client.add_tag(conversation, action["tag"])
        elif kind == "assign":
            self.client.assign(conversation, action["admin"])
        else:
            raise ApiFailure(f"unknown action {kind!r}", retryable=False)

    def _reply_body(self, action: dict[str, Any]) -> str:
        if "body" in action:
            return action["body"]
        lead = action.get("lead")
        name = self.client.lead_name(lead) if self.client is not None and lead else None
        return compile_answer(action["template"]).render(action.get("match"), name)

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

    def _prune_quietly(self) -> None:
        try:
            self._prune_now_and_then()
        except Exception:  # housekeeping must never stop delivery
            log.exception("at=error event=prune_failed")

    def _prune_now_and_then(self) -> None:
        now = self.clock()
        if now - self._last_prune >= PRUNE_EVERY_SECONDS:
            self._last_prune = now
            removed = self.store.prune(now, text_seconds=self.text_retention_seconds)
            if removed:
                log.info("at=info event=pruned rows=%d", removed)
