"""Group commit for SQLite: the write transactions of one process that arrive while another is
running share one real transaction and one fsync. Each writer that joins a batch runs in a
savepoint of its own (a writer that fails rolls back only its own work; the first one, alone in
the transaction, rolls back the transaction), and no writer returns before the commit that holds
its work is on disk: a webhook is still answered only once its own record is durable. A writer
that fails after reading the batch's uncommitted work (a repeated part: "duplicate") waits for
that commit too, and fails with it."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from app.store.errors import StoreUnavailable, describe

# A batch takes at most this many writers; the last one in commits it.
MAX_BATCH = 16


@dataclass
class _Batch:
    members: int = 0
    done: bool = False
    error: BaseException | None = None


class GroupCommit:
    """Batches the writers that queue on `lock` (the process's lock for the connection).
    `begin` opens the real transaction (taking the lock between processes); `end` releases
    that lock after the batch commits or rolls back."""

    def __init__(
        self, lock: threading.RLock, begin: Callable[[], None], end: Callable[[], None]
    ) -> None:
        self._lock = lock
        self._committed = threading.Condition(lock)
        self._begin, self._end = begin, end
        self._counter = threading.Lock()
        self._waiting = 0  # writers waiting for `lock`, under `_counter`
        self._batch: _Batch | None = None

    @property
    def open(self) -> bool:
        """Whether a batch is under way (its connection must not be closed now)."""
        return self._batch is not None

    @contextmanager
    def transaction(
        self, connection: Callable[[], sqlite3.Connection]
    ) -> Iterator[Callable[[str, Any], Any]]:
        with self._counter:
            self._waiting += 1
        batch, member, witness = None, False, False
        try:
            with self._lock:
                with self._counter:
                    self._waiting -= 1
                try:
                    if self._batch is None:
                        self._begin()
                        self._batch = _Batch()
                    batch, shared = self._batch, connection()
                    # The first writer of a batch is alone in the transaction: undoing its work
                    # is undoing the transaction, so it needs no savepoint (two statements fewer).
                    alone = batch.members == 0
                    if not alone:
                        shared.execute("SAVEPOINT writer")
                    try:
                        yield shared.execute
                        if not alone:
                            shared.execute("RELEASE writer")
                    except BaseException:
                        self._undo(shared, alone)
                        # What it read may be another member's uncommitted work (a row that
                        # made its part a duplicate): its answer holds only once that commits.
                        witness = not alone
                        raise
                    batch.members += 1
                    member = True
                finally:
                    if batch is not None:
                        self._settle(connection, batch, member or witness)
        except BaseException:
            if witness and batch is not None and batch.error is not None:
                raise StoreUnavailable(f"state store error: {describe(batch.error)}") from None
            raise
        if batch is not None and member and batch.error is not None:
            raise StoreUnavailable(f"state store error: {describe(batch.error)}") from None

    def _undo(self, shared: sqlite3.Connection, alone: bool) -> None:
        """Undo a failed writer's work: alone, by ending the transaction (and so the batch);
        else back to its savepoint, the batch's transaction staying open for the others."""
        if alone:
            if shared.in_transaction:  # some errors (a full disk) end the transaction already
                shared.execute("ROLLBACK")
        else:
            shared.execute("ROLLBACK TO writer")
            shared.execute("RELEASE writer")

    def _settle(
        self, connection: Callable[[], sqlite3.Connection], batch: _Batch, waits: bool
    ) -> None:
        """Leave the batch to a writer already waiting, or end it now. A member (or a writer
        that failed after reading the members' work) waits, the lock released, until the
        batch's commit is done."""
        with self._counter:
            others_waiting = self._waiting > 0
        open_for_more = batch.members < MAX_BATCH and connection().in_transaction
        if others_waiting and open_for_more:
            while waits and not batch.done:
                self._committed.wait()
            return
        self._finish(connection(), batch)

    def _finish(self, shared: sqlite3.Connection, batch: _Batch) -> None:
        try:
            if batch.members:
                shared.execute("COMMIT")
            elif shared.in_transaction:
                shared.execute("ROLLBACK")
        except sqlite3.Error as error:
            batch.error = error
            if shared.in_transaction:
                shared.execute("ROLLBACK")
        finally:
            self._batch = None
            batch.done = True
            self._end()
            self._committed.notify_all()
        if batch.error is not None:
            raise batch.error
