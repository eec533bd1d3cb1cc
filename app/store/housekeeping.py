"""Housekeeping: forgetting what is past its retention, and SQLite's WAL checkpoints."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

from app.store.database import Database, StoreUnavailable, close_quietly, describe

log = logging.getLogger(__name__)

# SQLite's WAL is copied back into the database file by a thread of each worker this often.
CHECKPOINT_SECONDS = 1.0
RETENTION_SECONDS = 30 * 24 * 3600


class Housekeeping(Database):
    """Pruning and checkpoints, run from background threads."""

    def checkpoint(self) -> None:
        """Copy SQLite's WAL back into the database file (nothing to do on PostgreSQL). A
        passive checkpoint on a connection of its own: no writer waits for it, where SQLite's
        automatic one runs inside a writer's commit."""
        if self.dialect != "sqlite":
            return
        try:
            if self._checkpointer_pid != os.getpid() or self._checkpointer is None:
                self._checkpointer_pid, self._checkpointer = os.getpid(), self._connect()
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as error:
            connection, self._checkpointer = self._checkpointer, None
            close_quietly(connection)
            raise StoreUnavailable(f"state store error: {describe(error)}") from error

    def keep_checkpointing(self, stop: threading.Event) -> None:
        """Checkpoint every CHECKPOINT_SECONDS until `stop` is set (a daemon thread per
        worker; returns at once on PostgreSQL)."""
        while self.dialect == "sqlite" and not stop.wait(CHECKPOINT_SECONDS):
            try:
                self.checkpoint()
            except StoreUnavailable as error:  # the backstop still bounds the WAL meanwhile
                log.warning("at=warning event=checkpoint_failed error=%r", str(error))

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
                "DELETE FROM outbox WHERE status IN ('done', 'dry_run', 'dead') "
                "AND finished_at < ?",
                before,
            ).rowcount
        return removed
