"""Reads behind the insight page and `flask insights`."""

from __future__ import annotations

from app.store.database import Database


class InsightQueries(Database):
    """What leads asked and what became of it."""

    def lead_outcomes(self, since: float) -> list[tuple[float, str, str | None, bool]]:
        """(received_at, status, rule_id, fallback) of every lead message since `since`."""
        rows = self._read(
            "SELECT received_at, status, rule_id, fallback FROM lead_messages "
            "WHERE received_at >= ? ORDER BY received_at",
            since,
        )
        return [(at, status, rule, bool(fallback)) for at, status, rule, fallback in rows]

    def unanswered_texts(self, since: float) -> list[str]:
        rows = self._read(
            "SELECT text FROM lead_messages WHERE received_at >= ? AND text IS NOT NULL "
            "ORDER BY received_at",
            since,
        )
        return [row[0] for row in rows]
