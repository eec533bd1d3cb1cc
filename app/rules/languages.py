"""Preferring the lead's language among the rules that fit a message (docs/contract.md, rule
order), and the greeting in the lead's language for a message that only calls for someone
(docs/rules.md)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from app.rules.model import Rule, RuleMatch


def lead_language_first(found: Iterator[RuleMatch], language: str) -> Iterator[RuleMatch]:
    """The matches (in priority order) with, at each priority, those of rules in the lead's
    `language` first, the order otherwise kept (phrase or pattern before example, then file order:
    docs/contract.md, rule order). Lazy where it can be: a first match of a priority that is in the
    lead's language comes out at once, so a phrase that settles a message costs no more."""
    held: list[RuleMatch] = []
    priority: int | None = None
    for match in found:
        if match.rule.priority != priority:
            yield from _in_language_first(held, language)
            held, priority = [], match.rule.priority
            if match.rule.prefers(language):
                yield match
                continue
        held.append(match)
    yield from _in_language_first(held, language)


def _in_language_first(held: list[RuleMatch], language: str) -> list[RuleMatch]:
    return sorted(held, key=lambda match: not match.rule.prefers(language))


def or_greeting(
    found: Iterator[RuleMatch],
    greeting_rules: Sequence[Rule],
    span: tuple[int, int],
    at: datetime | None,
    zone: ZoneInfo,
    language: str | None,
) -> Iterator[RuleMatch]:
    """The matches of a message that is only small talk and calls for someone; when there
    are none ("вы тут?"), the first of `greeting_rules` in the lead's language awake at `at`
    (none: the fallback answers)."""
    matched = False
    for match in found:
        matched = True
        yield match
    if matched:
        return
    for rule in greeting_rules:
        awake = at is None or rule.is_active(at, zone)
        if awake and rule.speaks(language) and rule.prefers(language):
            yield RuleMatch(rule, "small talk, answered by the greeting rule", span)
            return
