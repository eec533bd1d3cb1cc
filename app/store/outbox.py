"""The outbox: replies queued with their actions, claimed by delivery, retried, buried, revived."""

from __future__ import annotations

from collections.abc import Sequence

from app.store.database import Database
from app.store.records import Finished, OutboxItem, outbox_item

_OUTBOX_COLUMNS = (
    "id, part_id, conversation, rule_id, random_id, actions, step, status, attempts, "
    "created_at, deadline, next_attempt_at, last_error"
)


# Due replies not queued behind an earlier one of their conversation: replies in one
# conversation go out in the order they were queued. The items of one claim are therefore in
# different conversations.
_CLAIM = (
    "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ? "
    "WHERE id {IN_IDS}SELECT id FROM outbox AS due "
    "WHERE status IN ('pending', 'sending') AND next_attempt_at <= ? "
    "AND NOT EXISTS (SELECT 1 FROM outbox AS earlier "
    "WHERE earlier.conversation = due.conversation AND earlier.id < due.id "
    "AND earlier.status IN ('pending', 'sending')) "
    "ORDER BY next_attempt_at LIMIT ? {SKIP_LOCKED}{END_IDS} RETURNING " + _OUTBOX_COLUMNS
)
_FINISH = "UPDATE outbox SET status = ?, finished_at = ?, last_error = NULL WHERE id = ?"


class OutboxRecords(Database):
    """Delivery's side of the store."""

    def claim_due(self, now: float, lease_seconds: float) -> OutboxItem | None:
        """Take the oldest due reply for this worker, or None."""
        claimed = self.finish_and_claim((), now, lease_seconds, limit=1)
        return claimed[0] if claimed else None

    def finish_and_claim(
        self, finished: Sequence[Finished], now: float, lease_seconds: float, limit: int
    ) -> list[OutboxItem]:
        """In one transaction: record the replies just delivered, then take up to `limit` due
        replies, oldest first. While claimed, a reply's `next_attempt_at` is the lease's end: a
        worker that dies mid-call leaves a reply that comes due again then. One transaction
        for both halves the commits a reply costs when the service is busy."""
        with self.transaction() as run:
            for done in finished:
                run(_FINISH, done.status, done.at, done.item_id)
            if limit <= 0:
                return []
            rows = run(_CLAIM, now + lease_seconds, now, limit).fetchall()
        return sorted((outbox_item(row) for row in rows), key=lambda i: (i.next_attempt_at, i.id))

    def complete_step(self, item_id: int, step: int, lease_until: float) -> None:
        """Record that the actions before `step` are done, so a retry does not repeat them,
        and renew the claim for the next action."""
        self._write(
            "UPDATE outbox SET step = ?, next_attempt_at = ? WHERE id = ?",
            step,
            lease_until,
            item_id,
        )

    def finish(self, item_id: int, status: str, now: float) -> None:
        """`done` (delivered) or `dry_run` (logged, not sent)."""
        self._write(_FINISH, status, now, item_id)

    def retry_later(self, item_id: int, when: float, error: str) -> None:
        self._write(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ? "
            "WHERE id = ?",
            when,
            error,
            item_id,
        )

    def bury(self, item_id: int, error: str, now: float) -> None:
        """Give up on a reply: it stays visible as `dead` with its last error."""
        self._write(
            "UPDATE outbox SET status = 'dead', last_error = ?, finished_at = ? WHERE id = ?",
            error,
            now,
            item_id,
        )

    def revive(self, item_id: int, now: float, deadline: float) -> bool:
        """Queue a dead reply again (CLI or /admin); False when there is no such dead reply."""
        changed = self._write(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?, deadline = ?, "
            "finished_at = NULL WHERE id = ? AND status = 'dead'",
            now,
            deadline,
            item_id,
        )
        return changed == 1

    def outbox(self, statuses: Sequence[str] = ("pending", "sending", "dead")) -> list[OutboxItem]:
        marks = ", ".join("?" for _ in statuses)
        rows = self._read(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status IN ({marks}) ORDER BY id",
            *statuses,
        )
        return [outbox_item(row) for row in rows]

    def outbox_counts(self) -> dict[str, int]:
        return dict(self._read("SELECT status, COUNT(*) FROM outbox GROUP BY status"))

    def next_due_at(self) -> float | None:
        rows = self._read(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE status IN ('pending', 'sending')"
        )
        return rows[0][0] if rows else None

    def last_dead_since(self, since: float) -> str | None:
        """The error of the latest reply that died since `since` ("" when it had none), or
        None when none did: what /healthz calls a bot that has gone quiet."""
        rows = self._read(
            "SELECT last_error FROM outbox WHERE status = 'dead' AND finished_at >= ? "
            "ORDER BY finished_at DESC LIMIT 1",
            since,
        )
        return (rows[0][0] or "") if rows else None
