"""The outbox: replies queued with their actions, claimed by delivery, retried, buried, revived."""

from __future__ import annotations

import json
from collections.abc import Sequence

from app.store.database import Database
from app.store.records import FailureKind, Finished, OutboxItem, OutboxStatus, outbox_item

_OUTBOX_COLUMNS = (
    "id, part_id, conversation, rule_id, random_id, actions, step, status, attempts, "
    "created_at, deadline, next_attempt_at, last_error, failed_steps, unsure_since, echoed_at, "
    "reply_key"
)


# Due replies not queued behind an earlier one of their conversation: replies in one
# conversation go out in the order they were queued. The items of one claim are therefore in
# different conversations. A claimed item ('sending') whose lease ran out is taken over only
# when the claimer may take expired leases (see Delivery: a live holder renews its leases).
# Each item comes with what its conversation's silence is now, so that a reply a human
# overtook is cancelled before its next call. An item taken over from a worker that died
# mid-call may have reached Dashly: its reply is checked for before it is sent again.
_CLAIM = (
    "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ?, "
    "holder = ?, unsure_since = CASE WHEN status = 'sending' "
    "THEN COALESCE(unsure_since, created_at) ELSE unsure_since END "
    "WHERE id {IN_IDS}SELECT id FROM outbox AS due "
    "WHERE status IN (%s) AND next_attempt_at <= ? "
    "AND NOT EXISTS (SELECT 1 FROM outbox AS earlier "
    "WHERE earlier.conversation = due.conversation AND earlier.id < due.id "
    "AND earlier.status IN ('pending', 'sending')) "
    "ORDER BY next_attempt_at LIMIT ? {SKIP_LOCKED}{END_IDS} RETURNING " + _OUTBOX_COLUMNS + ", "
    "(SELECT operator_at FROM conversations AS c WHERE c.conversation = outbox.conversation), "
    "(SELECT handed_off_at FROM conversations AS c WHERE c.conversation = outbox.conversation), "
    "(SELECT assigned_at FROM conversations AS c WHERE c.conversation = outbox.conversation)"
)
_CLAIM_DUE = _CLAIM % "'pending'"
_CLAIM_DUE_OR_EXPIRED = _CLAIM % "'pending', 'sending'"
_FINISH = (
    "UPDATE outbox SET status = ?, finished_at = ?, last_error = ?, "
    "failed_steps = COALESCE(?, failed_steps) WHERE id = ?"
)
# A cancelled reply was not said: its rule has not answered the conversation.
_FORGET_ANSWER = (
    "DELETE FROM answered_rules WHERE (conversation, rule_id) IN "
    "(SELECT conversation, rule_id FROM outbox WHERE id = ?)"
)
_RENEW = "UPDATE outbox SET next_attempt_at = ? WHERE status = 'sending' AND holder = ? AND id IN "


class OutboxRecords(Database):
    """Delivery's side of the store."""

    def claim_due(self, now: float, lease_seconds: float, holder: str = "") -> OutboxItem | None:
        """Take the oldest due reply for this worker, or None."""
        claimed = self.finish_and_claim((), now, lease_seconds, limit=1, holder=holder)
        return claimed[0] if claimed else None

    def finish_and_claim(
        self,
        finished: Sequence[Finished],
        now: float,
        lease_seconds: float,
        limit: int,
        holder: str = "",
        take_expired: bool = True,
        renew: Sequence[int] = (),
    ) -> list[OutboxItem]:
        """In one transaction: record the replies just delivered, renew the leases of the
        items `holder` still holds (`renew`), then take up to `limit` due replies, oldest
        first. While claimed, a reply's `next_attempt_at` is the lease's end: a worker that
        dies mid-call leaves a reply that comes due again then. One transaction for all of it
        halves the commits a reply costs when the service is busy."""
        with self.transaction() as run:
            for done in finished:
                failed = _as_json(done.failed_steps) if done.failed_steps else None
                run(_FINISH, done.status, done.at, done.reason, failed, done.item_id)
                if done.forget_answer:
                    run(_FORGET_ANSWER, done.item_id)
            if renew:
                marks = "(" + ", ".join("?" for _ in renew) + ")"
                run(_RENEW + marks, now + lease_seconds, holder, *renew)
            if limit <= 0:
                return []
            claim = _CLAIM_DUE_OR_EXPIRED if take_expired else _CLAIM_DUE
            rows = run(claim, now + lease_seconds, holder, now, limit).fetchall()
        return sorted((outbox_item(row) for row in rows), key=lambda i: (i.next_attempt_at, i.id))

    def record_reply_key(self, item_id: int, key: str) -> None:
        """What a reply rendered at delivery says, before it is sent: its echo is then
        recognised as ours even without the random_id."""
        self._write("UPDATE outbox SET reply_key = ? WHERE id = ?", key, item_id)

    def complete_step(
        self,
        item_id: int,
        step: int,
        lease_until: float,
        failed_steps: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        """Record that the actions before `step` are done (`failed_steps`, when given, the
        ones among them that failed for good), so a retry does not repeat them, and renew the
        claim for the next action."""
        if failed_steps is None:
            self._write(
                "UPDATE outbox SET step = ?, next_attempt_at = ? WHERE id = ?",
                step,
                lease_until,
                item_id,
            )
            return
        self._write(
            "UPDATE outbox SET step = ?, next_attempt_at = ?, failed_steps = ? WHERE id = ?",
            step,
            lease_until,
            _as_json(failed_steps),
            item_id,
        )

    def finish(self, item_id: int, status: str, now: float) -> None:
        """`done` (delivered) or `dry_run` (logged, not sent)."""
        self.finish_and_claim((Finished(item_id, status, now),), now, 0.0, limit=0)

    def defer(self, item_id: int, step: int, when: float) -> None:
        """Record that the actions before `step` are done and let the rest come due at
        `when` (after "typing…"), for any worker to take."""
        self._write(
            "UPDATE outbox SET status = 'pending', step = ?, next_attempt_at = ? WHERE id = ?",
            step,
            when,
            item_id,
        )

    def retry_later(
        self, item_id: int, when: float, error: str, unsure_since: float | None = None
    ) -> None:
        """Try the item again at `when`; `unsure_since`: its reply's call may have reached
        Dashly (the earliest such call is kept)."""
        self._write(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ?, "
            "unsure_since = COALESCE(unsure_since, ?) WHERE id = ?",
            when,
            error,
            unsure_since,
            item_id,
        )

    def bury(
        self,
        item_id: int,
        error: str,
        now: float,
        kind: FailureKind,
        failed_steps: Sequence[tuple[str, str]] = (),
        step: int | None = None,
    ) -> None:
        """Give up on a reply: it stays visible as `dead` with its last error, why it died
        and the steps that failed; `step`, when given, is where a revival starts again."""
        self._write(
            "UPDATE outbox SET status = 'dead', last_error = ?, failure_kind = ?, "
            "finished_at = ?, failed_steps = ?, step = COALESCE(?, step) WHERE id = ?",
            error,
            kind.value,
            now,
            _as_json(failed_steps),
            step,
            item_id,
        )

    def revive(self, item_id: int, now: float, deadline: float) -> bool:
        """Queue a dead reply again (CLI or /admin); False when there is no such dead reply
        (or its contents were forgotten: `flask insights forget`)."""
        changed = self._write(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?, deadline = ?, "
            "finished_at = NULL, failed_steps = NULL, unsure_since = NULL, failure_kind = NULL "
            "WHERE id = ? AND status = 'dead' AND actions <> '[]'",
            now,
            deadline,
            item_id,
        )
        return changed == 1

    def outbox(
        self,
        statuses: Sequence[OutboxStatus] = (
            OutboxStatus.PENDING,
            OutboxStatus.SENDING,
            OutboxStatus.DEAD,
            OutboxStatus.CANCELLED,
        ),
    ) -> list[OutboxItem]:
        marks = ", ".join("?" for _ in statuses)
        rows = self._read(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status IN ({marks}) ORDER BY id",
            *statuses,
        )
        return [outbox_item(row) for row in rows]

    def not_saved(self, limit: int = 50) -> list[OutboxItem]:
        """The latest lead calls Dashly accepted while refusing some properties (the call is
        done; its `last_error` says which properties and why)."""
        rows = self._read(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = 'done' "
            "AND last_error IS NOT NULL ORDER BY id DESC LIMIT ?",
            limit,
        )
        return [outbox_item(row) for row in reversed(rows)]

    def failed_steps(self, limit: int = 50) -> list[OutboxItem]:
        """The latest items with a step that failed for good (an `assign` to an admin who is
        gone, a refused note): the reply went, or, when it failed too, the item is dead."""
        rows = self._read(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE failed_steps IS NOT NULL "
            "AND failed_steps <> '[]' ORDER BY id DESC LIMIT ?",
            limit,
        )
        return [outbox_item(row) for row in reversed(rows)]

    def outbox_counts(self) -> dict[str, int]:
        return dict(self._read("SELECT status, COUNT(*) FROM outbox GROUP BY status"))

    def next_due_at(self) -> float | None:
        rows = self._read(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE status IN ('pending', 'sending')"
        )
        return rows[0][0] if rows else None

    def last_dead_since(self, since: float) -> FailureKind | None:
        """Why the latest reply that died since `since` died, or None when none did: what
        /healthz calls a bot that has gone quiet. A step after the reply that failed, or a
        lead call (random_id 0) that died, is no dying reply."""
        rows = self._read(
            "SELECT failure_kind FROM outbox WHERE status = 'dead' AND finished_at >= ? "
            "AND random_id <> 0 ORDER BY finished_at DESC LIMIT 1",
            since,
        )
        if not rows:
            return None
        return FailureKind(rows[0][0]) if rows[0][0] else FailureKind.UNKNOWN


def _as_json(failed_steps: Sequence[tuple[str, str]]) -> str:
    return json.dumps([list(pair) for pair in failed_steps], ensure_ascii=False)
