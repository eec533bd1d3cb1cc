"""Reads behind the insight page and `flask insights`, counted by the database (a window of
50,000 messages is never loaded row by row), and forgetting stored texts on request."""

from __future__ import annotations

import json

from app.store.database import Database
from app.store.records import StoredMessage

# A lead message no rule answered: nothing did, or only a fallback.
_UNANSWERED = "(status = 'no_match' OR (status = 'replied' AND fallback = 1))"
_ANSWERED = "(status = 'replied' AND fallback = 0)"
_LATER_UNANSWERED = "(l.status = 'no_match' OR (l.status = 'replied' AND l.fallback = 1))"


class InsightQueries(Database):
    """What leads asked and what became of it."""

    def outcome_counts(self, since: float) -> list[tuple[str, str | None, bool, int]]:
        """(status, rule_id, fallback, how many) of the lead messages since `since`."""
        rows = self._read(
            "SELECT status, rule_id, fallback, COUNT(*) FROM lead_messages "
            "WHERE received_at >= ? GROUP BY status, rule_id, fallback",
            since,
        )
        return [(status, rule, bool(fallback), count) for status, rule, fallback, count in rows]

    def daily_counts(self, since: float, utc_offset: float) -> dict[int, tuple[int, int]]:
        """Day number (days since the epoch, at `utc_offset` seconds from UTC) → (answered by
        a rule, unanswered)."""
        rows = self._read(
            "SELECT {FLOOR}(received_at + ?) / 86400{END_FLOOR} AS day, "
            f"SUM(CASE WHEN {_ANSWERED} THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN {_UNANSWERED} THEN 1 ELSE 0 END) "
            "FROM lead_messages WHERE received_at >= ? GROUP BY day",
            utc_offset,
            since,
        )
        return {int(day): (int(answered), int(unanswered)) for day, answered, unanswered in rows}

    def rule_results(self, since: float, within: float) -> list[tuple[str, int, int, int, bool]]:
        """Per rule that answered since `since`, fallbacks too: (rule id, answers, answers after
        which a human operator still wrote in that conversation within `within` seconds,
        answers after which the lead wrote again within `within` seconds with something no
        rule answered, whether it answered as a fallback)."""
        rows = self._read(
            "SELECT m.rule_id, COUNT(*), "
            "SUM(CASE WHEN EXISTS (SELECT 1 FROM handled_parts AS h "
            "WHERE h.conversation = m.conversation AND h.handled_at > m.received_at "
            "AND h.handled_at <= m.received_at + ?) THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN EXISTS (SELECT 1 FROM lead_messages AS l "
            "WHERE l.conversation = m.conversation AND l.received_at > m.received_at "
            f"AND l.received_at <= m.received_at + ? AND {_LATER_UNANSWERED}) "
            "THEN 1 ELSE 0 END), MAX(m.fallback) "
            "FROM lead_messages AS m WHERE m.received_at >= ? AND m.status = 'replied' "
            "AND m.rule_id IS NOT NULL GROUP BY m.rule_id",
            within,
            within,
            since,
        )
        return [
            (rule, int(n), int(human or 0), int(again or 0), bool(fallback))
            for rule, n, human, again, fallback in rows
        ]

    def latest_answered(self, since: float, per_rule: int) -> dict[str, tuple[str, ...]]:
        """Per rule, the texts of the latest `per_rule` messages it answered since `since`
        (those whose text is kept), latest first: so that a wrong answer shows."""
        rows = self._read(
            "SELECT rule_id, text FROM (SELECT rule_id, text, ROW_NUMBER() OVER "
            "(PARTITION BY rule_id ORDER BY received_at DESC) AS n FROM lead_messages "
            "WHERE received_at >= ? AND status = 'replied' AND rule_id IS NOT NULL "
            "AND text IS NOT NULL) AS latest WHERE n <= ? ORDER BY rule_id, n",
            since,
            per_rule,
        )
        found: dict[str, tuple[str, ...]] = {}
        for rule, text in rows:
            found[rule] = (*found.get(rule, ()), text)
        return found

    def unanswered_texts(self, since: float, limit: int = 1_000_000) -> list[str]:
        """The stored texts no rule answered, the latest `limit` of them, oldest first."""
        rows = self._read(
            "SELECT text FROM lead_messages WHERE received_at >= ? AND text IS NOT NULL "
            f"AND {_UNANSWERED} ORDER BY received_at DESC LIMIT ?",
            since,
            limit,
        )
        return [row[0] for row in reversed(rows)]

    def stored_messages(self, since: float) -> list[StoredMessage]:
        """Every lead message since `since` whose text is kept: what replay runs edited rules
        over. Rows from before tags were kept read as untagged first messages."""
        rows = self._read(
            "SELECT received_at, status, rule_id, fallback, text, sent_via, tags, first_message "
            "FROM lead_messages WHERE received_at >= ? AND text IS NOT NULL ORDER BY received_at",
            since,
        )
        return [
            StoredMessage(
                received_at=at,
                status=status,
                rule_id=rule_id,
                fallback=bool(fallback),
                text=text,
                sent_via=via or "",
                tags=frozenset(json.loads(tags)) if tags else frozenset(),
                first_message=first is None or bool(first),
            )
            for at, status, rule_id, fallback, text, via, tags, first in rows
        ]

    def forget_texts(self, before: float) -> int:
        """Delete the stored message texts received before `before`; how many there were.
        Finished replies queued before then lose what they held of the lead too (the reply,
        the pattern groups such as an e-mail, the properties): forgetting is everywhere."""
        sqlite = self.dialect == "sqlite"
        with self.transaction() as run:
            if sqlite:  # the freed bytes are overwritten with zeros, not left on the page
                run("PRAGMA secure_delete = ON")
            removed = run(
                "UPDATE lead_messages SET text = NULL WHERE text IS NOT NULL AND received_at < ?",
                before,
            ).rowcount
            run(
                "UPDATE outbox SET actions = '[]', reply_key = NULL WHERE created_at < ? "
                "AND status IN ('done', 'dry_run', 'cancelled', 'dead') AND actions <> '[]'",
                before,
            )
            if sqlite:
                run("PRAGMA secure_delete = OFF")
        if sqlite:
            self._empty_the_wal()
        return removed

    def _empty_the_wal(self) -> None:
        """Copy SQLite's WAL into the database and cut it to nothing: the pages it still held
        had the texts just forgotten (forgetting means gone from the disk)."""
        connection = self.backend.connect()
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            connection.close()
