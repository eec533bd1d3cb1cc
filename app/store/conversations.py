"""Parts and conversation memory: the duplicate check, what the bot said where, the quiet rule."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from app.actions import Reply, action_to_json
from app.replies import ConversationMemory, NewReply
from app.store.database import Database
from app.store.records import LeadOutcome, OutboxStatus
from app.text import echo_key

# What can keep the bot silent in a conversation.
_SILENCE = "SELECT operator_at, handed_off_at FROM conversations WHERE conversation = ?"
_ANSWERED = "SELECT rule_id FROM answered_rules WHERE conversation = ?"
# Whether a lead message of the conversation was recorded before (`first_message` rules).
_EARLIER_LEAD_MESSAGE = "SELECT 1 FROM lead_messages WHERE conversation = ? LIMIT 1"


class _Repeated(Exception):
    """A part recorded before: its transaction is rolled back."""


@dataclass
class LeadRecording:
    """A lead message being recorded (Store.lead_message): what the store read, what the
    caller decided, and whether the part turned out to be a repeat."""

    memory: ConversationMemory
    outcome: LeadOutcome | None = None
    repeated: bool = False


class ConversationRecords(Database):
    """What the webhook records: one transaction per part."""

    @contextmanager
    def lead_message(
        self, part_id: str, conversation: str, now: float, may_answer: bool = True
    ) -> Iterator[LeadRecording]:
        """One transaction for a lead message: the block reads `recording.memory`, decides,
        and sets `recording.outcome`; on leaving it the outcome is recorded (its row, keyed by
        the part id, is also what recognises a repeated part) and its reply queued. When the
        part was handled before, everything is rolled back and `recording.repeated` is set.

        `may_answer` False says that no rule can answer whatever the memory holds: then only
        the silence is read, and the conversation is neither created nor locked."""
        recording = LeadRecording(ConversationMemory())
        try:
            with self.transaction(webhook=True) as run:
                if may_answer:
                    recording.memory = self._memory(run, conversation, now)
                else:
                    recording.memory = self._silence(run, conversation)
                yield recording
                outcome = recording.outcome
                if outcome is None:
                    raise ValueError("a lead message's block must set recording.outcome")
                memory = recording.memory
                if not self._insert(run, part_id, conversation, now, outcome, memory, may_answer):
                    raise _Repeated  # rolls back whatever the transaction did
                if outcome.reply is not None:
                    self._queue(run, outcome.reply, now)
        except _Repeated:
            recording.repeated = True

    def record_lead_message(
        self,
        part_id: str,
        conversation: str,
        now: float,
        decide: Callable[[ConversationMemory], LeadOutcome],
        may_answer: bool = True,
    ) -> LeadOutcome | None:
        """`lead_message` with the decision as a function of the memory; None when the part
        was handled before."""
        with self.lead_message(part_id, conversation, now, may_answer) as recording:
            recording.outcome = decide(recording.memory)
        return None if recording.repeated else recording.outcome

    def _insert(
        self,
        run: Callable[..., Any],
        part_id: str,
        conversation: str,
        now: float,
        outcome: LeadOutcome,
        memory: ConversationMemory,
        memory_is_whole: bool,
    ) -> bool:
        """The message's row; False when the part was recorded before."""
        tags, first = None, None
        if outcome.text is not None:  # kept for replay, to be judged as when it came
            tags = json.dumps(sorted(outcome.tags)) if outcome.tags else None
            earlier = (
                memory.earlier_lead_message if memory_is_whole else self._earlier(run, conversation)
            )
            first = int(not earlier)
        return (
            run(
                "INSERT INTO lead_messages (part_id, conversation, received_at, status, "
                "rule_id, fallback, reason, text, sent_via, tags, first_message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (part_id) DO NOTHING",
                part_id,
                conversation,
                now,
                outcome.status,
                outcome.rule_id,
                int(outcome.fallback),
                outcome.reason,
                outcome.text,
                outcome.sent_via or None,
                tags,
                first,
            ).rowcount
            == 1
        )

    def _memory(self, run: Callable[..., Any], conversation: str, now: float) -> ConversationMemory:
        # Locks the conversation's row on PostgreSQL, so two parts of one conversation that
        # arrive together are decided one after the other (SQLite's BEGIN IMMEDIATE already is).
        run(
            "INSERT INTO conversations (conversation, updated_at) VALUES (?, ?) "
            "ON CONFLICT (conversation) DO NOTHING",
            conversation,
            now,
        )
        silence = self._silence(run, conversation, lock=self.dialect == "postgres")
        answered = run(_ANSWERED, conversation).fetchall()
        return replace(
            silence,
            answered_rules=frozenset(r[0] for r in answered),
            earlier_lead_message=self._earlier(run, conversation),
        )

    @staticmethod
    def _earlier(run: Callable[..., Any], conversation: str) -> bool:
        return run(_EARLIER_LEAD_MESSAGE, conversation).fetchone() is not None

    def _silence(
        self, run: Callable[..., Any], conversation: str, lock: bool = False
    ) -> ConversationMemory:
        """What can keep the bot silent in a conversation (no answered rules): one read."""
        row = run(_SILENCE + (" FOR UPDATE" if lock else ""), conversation).fetchone()
        return ConversationMemory(frozenset(), *row) if row else ConversationMemory()

    def _queue(self, run: Callable[..., Any], reply: NewReply, now: float) -> None:
        run(
            "INSERT INTO answered_rules (conversation, rule_id, answered_at) VALUES (?, ?, ?) "
            "ON CONFLICT (conversation, rule_id) DO UPDATE SET answered_at = excluded.answered_at",
            reply.conversation,
            reply.rule_id,
            now,
        )
        run(
            "UPDATE conversations SET updated_at = ?, handed_off_at = "
            "CASE WHEN ? THEN ? ELSE handed_off_at END WHERE conversation = ?",
            now,
            reply.hands_off,
            now,
            reply.conversation,
        )
        body = next((a.body for a in reply.actions if isinstance(a, Reply)), None)
        # The text is known now unless it uses the lead's name (then delivery records it),
        # whatever comes first ("typing…").
        key = echo_key(body) if isinstance(body, str) else None
        items = [(reply.part_id, reply.random_id, list(reply.actions), key)]
        # A lead action's item is keyed by its part and kind; its random_id 0 is never sent.
        items += [(f"{reply.part_id}:{a.kind}", 0, [a], None) for a in reply.lead_actions]
        for part_id, random_id, actions, reply_key in items:
            run(
                "INSERT INTO outbox (part_id, conversation, rule_id, random_id, actions, "
                "status, created_at, deadline, next_attempt_at, reply_key) "
                "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
                part_id,
                reply.conversation,
                reply.rule_id,
                random_id,
                json.dumps([action_to_json(a) for a in actions], ensure_ascii=False),
                now,
                reply.deadline,
                now,
                reply_key,
            )

    def record_operator_message(self, part_id: str, conversation: str, now: float) -> bool:
        """Remember that a human wrote in the conversation now; False for a repeated part."""
        with self.transaction(webhook=True) as run:
            inserted = run(
                "INSERT INTO handled_parts (part_id, conversation, handled_at) VALUES (?, ?, ?) "
                "ON CONFLICT (part_id) DO NOTHING",
                part_id,
                conversation,
                now,
            ).rowcount
            if inserted != 1:
                return False
            run(
                "INSERT INTO conversations (conversation, operator_at, updated_at) "
                "VALUES (?, ?, ?) ON CONFLICT (conversation) DO UPDATE SET "
                "operator_at = excluded.operator_at, updated_at = excluded.updated_at",
                conversation,
                now,
                now,
            )
            return True

    def is_our_reply(
        self,
        conversation: str,
        random_id: int | None,
        reply_key: str | None = None,
        since: float = 0.0,
        now: float | None = None,
    ) -> bool:
        """Whether an operator's part is the echo of a reply we queued: it carries the
        random_id of one (0 or none is never ours: lead calls are stored with 0), or, when
        `reply_key` is given, it says what a reply queued here since `since` says. The echo of
        a reply not yet recorded as sent is noted (at `now`): a call whose outcome was unknown
        is then not made again. One read, and a write only for such an echo."""
        if not random_id and not reply_key:
            return False
        rows = self._read(
            "SELECT id, status, echoed_at FROM outbox WHERE conversation = ? "
            "AND ((random_id = ? AND ? <> 0) OR (reply_key = ? AND created_at >= ?))",
            conversation,
            random_id or 0,
            random_id or 0,
            reply_key or None,
            since,
        )
        waiting = [
            r[0]
            for r in rows
            if r[1] in (OutboxStatus.PENDING, OutboxStatus.SENDING) and r[2] is None
        ]
        if waiting and now is not None:
            marks = ", ".join("?" for _ in waiting)
            self._write(
                f"UPDATE outbox SET echoed_at = ? WHERE id IN ({marks})",
                now,
                *waiting,
            )
        return bool(rows)

    def note_assignment(self, conversation: str, now: float) -> None:
        """A lead's part says a person is assigned the conversation (QUIET_WHEN_ASSIGNED):
        a reply still waiting there is cancelled before its next call."""
        self._write(
            "INSERT INTO conversations (conversation, assigned_at, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (conversation) DO UPDATE SET assigned_at = excluded.assigned_at, "
            "updated_at = excluded.updated_at",
            conversation,
            now,
            now,
        )

    def lift_hand_over(self, conversation: str, since: float) -> None:
        """The hand-over decided at `since` or later did not happen (its `assign` failed for
        good): the bot may speak in the conversation again."""
        self._write(
            "UPDATE conversations SET handed_off_at = NULL "
            "WHERE conversation = ? AND handed_off_at >= ?",
            conversation,
            since,
        )

    def memory(self, conversation: str) -> ConversationMemory:
        """The conversation's memory, read outside any decision (for tests and the CLI)."""
        rows = self._read(_SILENCE, conversation)
        answered = self._read(_ANSWERED, conversation)
        operator_at, handed_off_at = rows[0] if rows else (None, None)
        return ConversationMemory(frozenset(r[0] for r in answered), operator_at, handed_off_at)
