"""What leads asked and what the bot did about it: the figures behind `flask insights` and the
/admin page, computed the same way for both."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.handling.decide import IGNORED, NO_MATCH, REPLIED
from app.insight.grouping import QuestionGroup, group_questions
from app.store import Store

CHART_DAYS = 14
# Each rule's latest this many answered questions are shown beside it.
LATEST_PER_RULE = 3
# The grouping looks at the latest this many unanswered texts: about a second when all differ.
GROUPED_AT_MOST = 3000
# An answer "settled it" when, this long after it, no human wrote and the lead did not write
# again with something no rule answered.
SETTLED_SECONDS = 3600


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
    grouped: int = 0  # how many unanswered texts the grouping covers
    # Per rule: (id, answers, a human still wrote within the hour, the lead wrote again
    # unanswered within the hour, the rule hands over on purpose), the answers to rewrite first.
    results: tuple[tuple[str, int, int, int, bool], ...] = ()
    # Per rule, the latest questions it answered (latest first), and the rules that did not
    # answer at all in the period.
    latest: dict[str, tuple[str, ...]] = field(default_factory=dict)
    never_fired: tuple[str, ...] = ()


def build_insights(
    store: Store,
    now: float,
    days: int,
    zone: ZoneInfo,
    handing_over: frozenset[str] = frozenset(),
    rule_ids: tuple[str, ...] = (),
) -> Insights:
    """The figures, counted by the database; the grouping covers the latest GROUPED_AT_MOST
    unanswered texts (a bounded time, whatever the window holds). `rule_ids`: the rules in
    force, those that never answered in the period are listed apart."""
    since = now - days * 86400
    counts = store.outcome_counts(since)
    hits: Counter[str] = Counter()
    for status, rule, _, count in counts:
        if status == REPLIED and rule:
            hits[rule] += count
    texts = store.unanswered_texts(since, GROUPED_AT_MOST)
    return Insights(
        days=days,
        messages=sum(count for *_, count in counts),
        answered=sum(c for s, _, f, c in counts if s == REPLIED and not f),
        unanswered=sum(c for s, _, f, c in counts if is_unanswered(s, f)),
        silent=sum(c for s, _, _, c in counts if s == IGNORED),
        rule_hits=tuple(sorted(hits.items(), key=lambda item: (-item[1], item[0]))),
        outbox=store.outbox_counts(),
        groups=tuple(group_questions(texts)),
        daily=daily_counts(store, now, zone),
        grouped=len(texts),
        results=rule_results(store, since, handing_over),
        latest=store.latest_answered(since, LATEST_PER_RULE),
        never_fired=tuple(rule for rule in rule_ids if rule not in hits),
    )


def rule_results(
    store: Store, since: float, handing_over: frozenset[str]
) -> tuple[tuple[str, int, int, int, bool], ...]:
    """Which answers work: per rule, how often a human still stepped in or the lead came back
    unanswered within the hour; rules that hand over on purpose last, the rest worst first."""
    rows = [
        (rule, answers, human, again, rule in handing_over)
        for rule, answers, human, again in store.rule_results(since, SETTLED_SECONDS)
    ]
    return tuple(sorted(rows, key=lambda r: (r[4], -(r[2] + r[3]) / r[1], -r[1], r[0])))


def is_unanswered(status: str, fallback: bool) -> bool:
    """No rule answered: nothing did, or only a fallback."""
    return status == NO_MATCH or (status == REPLIED and fallback)


def daily_counts(store: Store, now: float, zone: ZoneInfo) -> tuple[tuple[date, int, int], ...]:
    """The last CHART_DAYS days in the owner's time zone (at today's offset from UTC)."""
    local_now = datetime.fromtimestamp(now, zone)
    offset = (local_now.utcoffset() or timedelta()).total_seconds()
    today = local_now.date()
    by_day = store.daily_counts(now - CHART_DAYS * 86400 - 86400, offset)
    epoch = date(1970, 1, 1)
    days = [today - timedelta(days=back) for back in range(CHART_DAYS - 1, -1, -1)]
    return tuple((day, *by_day.get((day - epoch).days, (0, 0))) for day in days)
