"""The delivery worker: takes queued replies from the outbox and performs them, with retries."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from app.dashly.client import DashlyClient
from app.delivery.sending import ECHO_WAIT_SECONDS, LEASE_SECONDS, Sender
from app.logs import Trouble
from app.store import Finished, OutboxItem, Store, StoreUnavailable

log = logging.getLogger(__name__)

# Replies made by other workers, other dynos and retries are found by polling this often.
POLL_SECONDS = 1.0
PRUNE_EVERY_SECONDS = 3600.0
# Calls to the API in flight at once per worker; they wait on the network, not the CPU.
SENDERS = 8
# Under load the claimer runs at most once per this many seconds: the replies and finished sends
# of that time share one transaction and one wake-up, where a round for each costs more CPU than
# the webhook that queued it. A reply to an idle service is still claimed at once.
ROUND_SECONDS = 0.02
# A worker renews the leases of the items it holds (claimed, or sent and not yet recorded) this
# often, as a share of the lease; after a store outage, or at start, a worker takes over others'
# expired items only once it has reached the store for this share of the lease: a live holder
# has renewed its own by then, so only a dead holder's items are taken (docs/contract.md, delivery).
RENEW_SHARE = 1 / 6
TAKEOVER_SHARE = 0.4


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
        quiet_minutes: int = 0,
        lease_seconds: float = LEASE_SECONDS,
        echo_wait_seconds: float = ECHO_WAIT_SECONDS,
    ) -> None:
        self.store = store
        self.client = client
        self.clock = clock
        self.senders = senders
        self.text_retention_seconds = text_retention_seconds
        self.lease_seconds = lease_seconds
        self.holder = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._held: set[int] = set()  # guarded by _changed
        self._renewed_at = clock()
        self._reached_store_since: float | None = clock()
        self._changed = threading.Condition()
        self._woken = False  # guarded by _changed, like the two below
        self._sending = 0
        self._finished: list[Finished] = []
        self._stop = threading.Event()
        self._drain_until = 0.0
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.sender = Sender(
            store, client, clock, quiet_minutes, lease_seconds, self._stop, echo_wait_seconds
        )
        self._last_prune = 0.0
        # A database outage is one log line per interval from each, not a traceback per try.
        self._trouble = Trouble("delivery")
        self._prune_trouble = Trouble("prune")

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
            self._thread.join(drain_seconds + self.lease_seconds / 4)

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
            renew = self._renewal_due()
            if not (stopping or woken or finished or renew or self._due()):
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
        if not self.store.ready.is_set():
            return False  # the store is not reachable yet; its own thread keeps trying
        try:
            due_at = self.store.next_due_at()
        except StoreUnavailable as error:
            self._store_failed(str(error))
            return False
        return due_at is not None and due_at <= self.clock()

    def _renewal_due(self) -> bool:
        """Whether this worker holds items whose leases are due for renewal (every lease/6:
        one statement every few seconds, not one in each round)."""
        if self.clock() - self._renewed_at < self.lease_seconds * RENEW_SHARE:
            return False
        with self._changed:
            return bool(self._held)

    def _record(self, finished: list[Finished], limit: int) -> list[OutboxItem]:
        """Record finished sends, renew the leases of what this worker holds, and claim up to
        `limit` due replies; on a store error the finished ones are kept for the next try and
        stay held, their leases renewed as soon as the store is back (otherwise another worker
        would take them over and send them twice)."""
        now = self.clock()
        renew: list[int] = []
        if self._renewal_due():
            with self._changed:
                renew = sorted(self._held)
        if not finished and limit <= 0 and not renew:
            return []
        reached = self._reached_store_since
        take_expired = reached is not None and now - reached >= self.lease_seconds * (
            TAKEOVER_SHARE
        )
        try:
            claimed = self.store.finish_and_claim(
                finished, now, self.lease_seconds, limit, self.holder, take_expired, renew
            )
        except StoreUnavailable as error:
            self._store_failed(str(error))
        except Exception:  # a thread that dies here would stop delivery for good
            log.exception("event=claim_failed")
        else:
            self._trouble.recovered()
            if self._reached_store_since is None:
                self._reached_store_since = now
            if renew:
                self._renewed_at = now
            with self._changed:
                self._held.difference_update(done.item_id for done in finished)
                self._held.update(item.id for item in claimed)
            return claimed
        self._keep(finished)
        return []

    def _store_failed(self, error: str) -> None:
        self._trouble.failed(error)
        self._reached_store_since = None

    def _send_and_report(self, item: OutboxItem) -> None:
        done = None
        try:
            done = self.sender.send(item)
        except StoreUnavailable as error:  # no call was completed: the lease brings it back
            self._store_failed(str(error))
        except Exception:  # one bad reply must not stop delivery for everyone
            log.exception("event=delivery_crashed id=%d", item.id)
        finally:
            with self._changed:
                self._sending -= 1
                if done is not None:
                    self._finished.append(done)
                else:  # recorded by the sender, or left for its lease to run out
                    self._held.discard(item.id)
                self._woken = True
                self._changed.notify()

    def deliver_next(self) -> bool:
        """Claim and perform the next due reply in this thread, if any; True when one was."""
        item = self.store.claim_due(self.clock(), self.lease_seconds, self.holder)
        if item is None:
            return False
        done = self.sender.send(item)
        if done is not None:
            self.store.finish_and_claim([done], self.clock(), self.lease_seconds, 0)
        return True

    def _prune_quietly(self) -> None:
        if not self.store.ready.is_set():
            return  # a store down at boot is not touched before it is migrated
        try:
            self._prune_now_and_then()
        except StoreUnavailable as error:
            self._prune_trouble.failed(str(error))
        except Exception:  # housekeeping must never stop delivery
            log.exception("event=prune_failed")
        else:
            self._prune_trouble.recovered()

    def _prune_now_and_then(self) -> None:
        now = self.clock()
        if now - self._last_prune >= PRUNE_EVERY_SECONDS:
            self._last_prune = now
            removed = self.store.prune(now, text_seconds=self.text_retention_seconds)
            if removed:
                log.info("event=pruned rows=%d", removed)
