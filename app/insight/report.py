"""What leads asked and what the bot did about it: the figures behind `flask insights` and the
/admin page, computed the same way for both."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.handling.decide import Outcome
from app.insight.grouping import QuestionGroup, group_questions
from app.rules.matching import RuleSet
from app.store import Store
from app.text import normalise

CHART_DAYS = 14
# Each rule's latest this many answered questions are shown beside it.
LATEST_PER_RULE = 3
# The grouping looks at the latest this many unanswered texts: about a second when all differ.
GROUPED_AT_MOST = 3000
# An answer "settled it" when, this long after it, no human wrote and the lead did not write
# again with something no rule answered.
SETTLED_SECONDS = 3600
# Groups listed, the largest first, on /admin and by `flask insights` alike.
SHOWN_GROUPS = 30


@dataclass(frozen=True)
class RuleResult:
    """How one rule's answers of the period went."""

    rule_id: str
    answers: int
    human: int  # a human operator still wrote in the conversation within the hour
    again: int  # the lead wrote again within the hour with something no rule answered
    hands_over: bool  # the rule assigns the conversation to a person on purpose
    fallback: bool  # the rule answered as a fallback: its messages count as unanswered

    @property
    def settled_percent(self) -> int | None:
        """The share of answers after which neither happened; None where it says nothing (a
        hand-over is followed by a human on purpose, a fallback counts as unanswered)."""
        if self.hands_over or self.fallback:
            return None
        return round(
            (self.answers - min(self.answers, self.human + self.again)) / self.answers * 100
        )

    @property
    def note(self) -> str:
        if self.fallback:
            return "a fallback: its messages count as unanswered"
        return "hands over on purpose" if self.hands_over else ""


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
    # Per rule, the answers to rewrite first; hand-overs and fallbacks last.
    results: tuple[RuleResult, ...] = ()
    # Per rule, the latest questions it answered (latest first), and the rules that did not
    # answer at all in the period.
    latest: dict[str, tuple[str, ...]] = field(default_factory=dict)
    never_fired: tuple[str, ...] = ()

    @property
    def shown_groups(self) -> tuple[QuestionGroup, ...]:
        return self.groups[:SHOWN_GROUPS]

    @property
    def groups_shown_of(self) -> str:
        """ "30 of 45 groups" when the list is cut, else "45 groups"."""
        shown = len(self.shown_groups)
        if shown < len(self.groups):
            return f"{shown} of {len(self.groups)} groups"
        return f"{shown} groups"


def build_insights(
    store: Store, now: float, days: int, zone: ZoneInfo, rules: RuleSet | None = None
) -> Insights:
    """The figures, counted by the database; the grouping covers the latest GROUPED_AT_MOST
    unanswered texts (a bounded time, whatever the window holds). With the `rules` in force:
    those that hand over are listed apart, those that never answered in the period too, and a
    group whose typical question a rule now answers is not offered again."""
    handing_over = frozenset(r.id for r in rules.rules if r.assign) if rules else frozenset()
    rule_ids = tuple(r.id for r in rules.rules) if rules else ()
    since = now - days * 86400
    counts = store.outcome_counts(since)
    hits: Counter[str] = Counter()
    for status, rule, _, count in counts:
        if status == Outcome.REPLIED and rule:
            hits[rule] += count
    texts = store.unanswered_texts(since, GROUPED_AT_MOST)
    return Insights(
        days=days,
        messages=sum(count for *_, count in counts),
        answered=sum(c for s, _, f, c in counts if s == Outcome.REPLIED and not f),
        unanswered=sum(c for s, _, f, c in counts if is_unanswered(s, f)),
        silent=sum(c for s, _, _, c in counts if s == Outcome.IGNORED),
        rule_hits=tuple(sorted(hits.items(), key=lambda item: (-item[1], item[0]))),
        outbox=store.outbox_counts(),
        groups=tuple(
            group for group in group_questions(texts) if not (rules and answers_now(rules, group))
        ),
        daily=daily_counts(store, now, zone),
        grouped=len(texts),
        results=rule_results(store, since, handing_over),
        latest=store.latest_answered(since, LATEST_PER_RULE),
        never_fired=tuple(rule for rule in rule_ids if rule not in hits),
    )


def answers_now(rules: RuleSet, group: QuestionGroup) -> bool:
    """Whether a rule (not a fallback) answers the group's typical question now, at any hour:
    the owner has written one since these questions came."""
    return (
        next(rules.iter_matches_normalised(normalise(group.example), any_time=True), None)
        is not None
    )


def rule_results(
    store: Store, since: float, handing_over: frozenset[str]
) -> tuple[RuleResult, ...]:
    """Which answers work: per rule, how often a human still stepped in or the lead came back
    unanswered within the hour, worst first; hand-overs and fallbacks last."""
    rows = [
        RuleResult(rule, answers, human, again, rule in handing_over, fallback)
        for rule, answers, human, again, fallback in store.rule_results(since, SETTLED_SECONDS)
    ]
    return tuple(
        sorted(
            rows,
            key=lambda r: (
                r.fallback or r.hands_over,
                -(r.human + r.again) / r.answers,
                -r.answers,
                r.rule_id,
            ),
        )
    )


def is_unanswered(status: str, fallback: bool) -> bool:
    """No rule answered: nothing did, or only a fallback."""
    return status == Outcome.NO_MATCH or (status == Outcome.REPLIED and fallback)


def daily_counts(store: Store, now: float, zone: ZoneInfo) -> tuple[tuple[date, int, int], ...]:
    """The last CHART_DAYS days in the owner's time zone (at today's offset from UTC)."""
    local_now = datetime.fromtimestamp(now, zone)
    offset = (local_now.utcoffset() or timedelta()).total_seconds()
    today = local_now.date()
    by_day = store.daily_counts(now - CHART_DAYS * 86400 - 86400, offset)
    epoch = date(1970, 1, 1)
    days = [today - timedelta(days=back) for back in range(CHART_DAYS - 1, -1, -1)]
    return tuple((day, *by_day.get((day - epoch).days, (0, 0))) for day in days)
