"""Housekeeping: forgetting what is past its retention, and SQLite's WAL checkpoints."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

from app.logs import Trouble
from app.store.database import Database
from app.store.errors import StoreUnavailable, close_quietly, describe

log = logging.getLogger(__name__)

# SQLite's WAL is copied back into the database file by a thread of each worker this often.
CHECKPOINT_SECONDS = 1.0
RETENTION_SECONDS = 30 * 24 * 3600


class Housekeeping(Database):
    """Pruning and checkpoints, run from background threads."""

    _checkpointer: sqlite3.Connection | None = None
    _checkpointer_pid: int | None = None

    def checkpoint(self) -> None:
        """Copy SQLite's WAL back into the database file (nothing to do on PostgreSQL), on a
        connection of its own: no writer waits for it, where SQLite's automatic checkpoint
        runs inside a writer's commit. Once everything was copied, the next writer starts the
        WAL over and cuts the file back to its size limit (`journal_size_limit`)."""
        if self.dialect != "sqlite":
            return
        self.backend.watch_free_space()
        try:
            if self._checkpointer_pid != os.getpid() or self._checkpointer is None:
                self._checkpointer_pid = os.getpid()
                self._checkpointer = self.backend.connect()
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except (sqlite3.Error, OSError) as error:
            connection, self._checkpointer = self._checkpointer, None
            close_quietly(connection)
            raise StoreUnavailable(f"state store error: {describe(error)}") from error

    def keep_checkpointing(self, stop: threading.Event) -> None:
        """Checkpoint every CHECKPOINT_SECONDS until `stop` is set (a daemon thread per
        worker; returns at once on PostgreSQL)."""
        trouble = Trouble("store-checkpoint")
        while self.dialect == "sqlite" and not stop.wait(CHECKPOINT_SECONDS):
            try:
                self.checkpoint()
            except StoreUnavailable as error:  # the backstop still bounds the WAL meanwhile
                trouble.failed(str(error))
            else:
                trouble.recovered()

    def prune(
        self, now: float, keep_seconds: float = RETENTION_SECONDS, text_seconds: float = 0
    ) -> int:
        """Forget what is older than the retention window (handoffs are kept for good), and
        the text of unanswered messages older than `text_seconds`."""
        before = now - keep_seconds
        with self.transaction() as run:
            removed = run(
                "UPDATE lead_messages SET text = NULL WHERE text IS NOT NULL AND received_at < ?",
                now - text_seconds,
            ).rowcount
            removed += run("DELETE FROM lead_messages WHERE received_at < ?", before).rowcount
            removed += run("DELETE FROM handled_parts WHERE handled_at < ?", before).rowcount
            removed += run("DELETE FROM answered_rules WHERE answered_at < ?", before).rowcount
            removed += run(
                "DELETE FROM conversations WHERE updated_at < ? AND handed_off_at IS NULL",
                before,
            ).rowcount
            removed += run(
                "DELETE FROM outbox WHERE status IN ('done', 'dry_run', 'dead', 'cancelled') "
                "AND finished_at < ?",
                before,
            ).rowcount
        return removed
