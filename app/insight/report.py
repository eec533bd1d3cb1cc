"""What leads asked and what the bot did about it: the figures behind `flask insights` and the
/admin page, computed the same way for both."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.handling.decide import IGNORED, NO_MATCH, REPLIED
from app.insight.grouping import QuestionGroup, group_questions
from app.store import Store

CHART_DAYS = 14


@dataclass(frozen=True)
class Insights:
    """The figures of the last `days` days."""

    days: int
    messages: int
    answered: int
    unanswered: int
    silent: int
    rule_hits: tuple[tuple[str, int], ...]
    outbox: dict[str, int]
    groups: tuple[QuestionGroup, ...]
    daily: tuple[tuple[date, int, int], ...]  # (day, answered by a rule, unanswered)


def build_insights(store: Store, now: float, days: int, zone: ZoneInfo) -> Insights:
    since = now - days * 86400
    chart_since = now - CHART_DAYS * 86400
    outcomes = store.lead_outcomes(min(since, chart_since))
    recent = [o for o in outcomes if o[0] >= since]
    hits = Counter(rule for _, status, rule, _ in recent if status == REPLIED and rule)
    unanswered = sum(1 for _, status, _, fallback in recent if is_unanswered(status, fallback))
    silent = sum(1 for _, status, _, _ in recent if status == IGNORED)
    return Insights(
        days=days,
        messages=len(recent),
        answered=sum(1 for _, s, _, f in recent if s == REPLIED and not f),
        unanswered=unanswered,
        silent=silent,
        rule_hits=tuple(sorted(hits.items(), key=lambda item: (-item[1], item[0]))),
        outbox=store.outbox_counts(),
        groups=tuple(group_questions(store.unanswered_texts(since))),
        daily=daily_counts(outcomes, now, zone),
    )


def is_unanswered(status: str, fallback: bool) -> bool:
    """No rule answered: nothing did, or only a fallback."""
    return status == NO_MATCH or (status == REPLIED and fallback)


def daily_counts(
    outcomes: list[tuple[float, str, str | None, bool]], now: float, zone: ZoneInfo
) -> tuple[tuple[date, int, int], ...]:
    today = datetime.fromtimestamp(now, zone).date()
    days = [today - timedelta(days=offset) for offset in range(CHART_DAYS - 1, -1, -1)]
    answered: Counter[date] = Counter()
    unanswered: Counter[date] = Counter()
    for at, status, _, fallback in outcomes:
        day = datetime.fromtimestamp(at, zone).date()
        if is_unanswered(status, fallback):
            unanswered[day] += 1
        elif status == REPLIED:
            answered[day] += 1
    return tuple((day, answered[day], unanswered[day]) for day in days)
