"""The delivery worker: takes queued replies from the outbox and performs them, with retries."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.dashly import ApiFailure, DashlyClient
from app.store import OutboxItem, Store, StoreUnavailable
from app.templates import AnswerTemplateError, compile_answer

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


def retry_delay(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Exponential backoff with jitter; never sooner than the API's Retry-After."""
    ceiling = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0))
    delay = rng.uniform(ceiling / 2, ceiling)  # jitter: workers that failed together spread out
    return max(delay, retry_after or 0.0)


class Delivery:
    """One per worker process: a claimer thread, woken at once by a new reply and polling for
    the rest, hands due replies to a few sender threads (a slow API then delays replies in
    parallel, not one after another)."""

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
        self._slots = threading.Semaphore(senders)
        self._wake = threading.Event()
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
        self._wake.set()

    def stop(self, drain_seconds: float) -> None:
        """Finish the calls in flight, send what is due for up to `drain_seconds`, then stop."""
        self._drain_until = self.clock() + drain_seconds
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(drain_seconds + LEASE_SECONDS / 4)

    def _run(self) -> None:
        assert self._pool is not None
        while True:
            stopping = self._stop.is_set()
            if stopping and self.clock() >= self._drain_until:
                break
            self._slots.acquire()
            item = self._claim_quietly()
            if item is not None:
                self._pool.submit(self._send_and_free_slot, item)
                continue
            self._slots.release()
            if stopping:
                break
            try:
                self._prune_now_and_then()
            except Exception:  # housekeeping must never stop delivery
                log.exception("at=error event=prune_failed")
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
        self._pool.shutdown(wait=True)

    def _claim_quietly(self) -> OutboxItem | None:
        try:
            return self._claim()
        except StoreUnavailable as error:
            log.error("at=error event=delivery_store_unavailable error=%r", str(error))
        except Exception:  # a thread that dies here would stop delivery for good
            log.exception("at=error event=claim_failed")
        return None

    def _send_and_free_slot(self, item: OutboxItem) -> None:
        try:
            self._send(item)
        except Exception:  # one bad reply must not stop delivery for everyone
            log.exception("at=error event=delivery_crashed id=%d", item.id)
        finally:
            self._slots.release()
            # A reply that waited behind this one in its conversation is due now, not at the
            # next poll.
            self._wake.set()

    def deliver_next(self) -> bool:
        """Claim and perform the next due reply in this thread, if any; True when one was."""
        item = self._claim()
        if item is None:
            return False
        self._send(item)
        return True

    def _claim(self) -> OutboxItem | None:
        now = self.clock()
        due_at = self.store.next_due_at()
        if due_at is None or due_at > now:
            return None
        return self.store.claim_due(now, LEASE_SECONDS)

    def _send(self, item: OutboxItem) -> None:
        started = time.perf_counter()
        step = item.step
        try:
            for step in range(item.step, len(item.actions)):
                self._perform(item.conversation, item.random_id, item.actions[step])
                if step + 1 < len(item.actions):
                    self.store.complete_step(item.id, step + 1, self.clock() + LEASE_SECONDS)
        except ApiFailure as failure:
            self._failed(item.id, item.conversation, item.deadline, item.attempts, step, failure)
            return
        except AnswerTemplateError as error:
            self.store.bury(item.id, str(error), self.clock())
            log.error("at=error event=reply_dead id=%d error=%r", item.id, str(error))
            return
        status = "dry_run" if self.client is None else "done"
        self.store.finish(item.id, status, self.clock())
        log.info(
            "at=info event=delivered id=%d conversation=%s rule=%s attempt=%d status=%s ms=%d",
            item.id,
            item.conversation,
            item.rule_id,
            item.attempts,
            status,
            (time.perf_counter() - started) * 1000,
        )

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

    def _prune_now_and_then(self) -> None:
        now = self.clock()
        if now - self._last_prune >= PRUNE_EVERY_SECONDS:
            self._last_prune = now
            removed = self.store.prune(now, text_seconds=self.text_retention_seconds)
            if removed:
                log.info("at=info event=pruned rows=%d", removed)
