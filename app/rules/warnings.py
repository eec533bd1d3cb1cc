"""Warnings for `flask rules check`: rules that load but will not behave as their author thinks."""

from __future__ import annotations

from app.rules.hours import MINUTES_PER_DAY, HourRange
from app.rules.lead_actions import KNOWN_CHANNELS
from app.rules.matching import RuleSet
from app.rules.model import DRAFT_MARK, Rule


def rule_warnings(rules: RuleSet) -> list[str]:
    """One `file:line: warning: ...` line per suspicious rule, in rule order."""
    return (
        shadowed_phrases(rules)
        + hours_that_never_occur(rules)
        + unknown_channels(rules)
        + confused_examples(rules)
        + drafts(rules)
    )


def drafts(rules: RuleSet) -> list[str]:
    return [
        f"{rule.source}: warning: rule {rule.id!r} is a draft: its answer still begins with "
        f"{DRAFT_MARK!r}, so it answers no lead until you write the answer"
        for rule in rules.rules
        if rule.draft
    ]


def confused_examples(rules: RuleSet) -> list[str]:
    """Examples nearer another rule than their own rule's other examples: a message like
    them may get the other rule's answer."""
    if rules.examples is None:
        return []
    return [
        f"{found.rule.source}: warning: rule {found.rule.id!r}: example {found.example!r} is "
        f"nearer rule {found.other.id!r} (similarity {found.to_other:.2f}) than this rule's "
        f"other examples ({found.own:.2f}); reword it, or give this rule more examples like it"
        for found in rules.examples.confusions
    ]


def unknown_channels(rules: RuleSet) -> list[str]:
    return [
        f"{rule.source}: warning: rule {rule.id!r}: channel {channel!r} is not one Dashly is "
        f"known to send (known: {', '.join(sorted(KNOWN_CHANNELS))})"
        for rule in rules.rules
        for channel in sorted(rule.channels - KNOWN_CHANNELS)
    ]


def shadowed_phrases(rules: RuleSet) -> list[str]:
    warnings = []
    first_owner: dict[str, Rule] = {}
    for rule in rules.rules:
        for phrase in rule.phrases:
            owner = first_owner.setdefault(phrase.text, rule)
            if owner is rule:
                continue
            always_first = owner.repeat and not owner.hours and not owner.outside_hours
            consequence = (
                "can never answer it"
                if always_first
                else "answers it only after that rule has answered in the conversation"
            )
            warnings.append(
                f"{rule.source}: warning: rule {rule.id!r}: phrase {phrase.text!r} is also in "
                f"rule {owner.id!r} ({owner.source}), which comes first; this rule "
                f"{consequence}"
            )
    return warnings


def hours_that_never_occur(rules: RuleSet) -> list[str]:
    return [
        f"{rule.source}: warning: rule {rule.id!r}: outside_hours covers the whole week, "
        "so the rule never answers"
        for rule in rules.rules
        if rule.outside_hours and covers_whole_week(rule.outside_hours)
    ]


def covers_whole_week(ranges: tuple[HourRange, ...]) -> bool:
    """Every minute of the week falls in one of the ranges."""
    return all(
        any(r.contains(day, minute) for r in ranges)
        for day in range(7)
        for minute in range(MINUTES_PER_DAY)
    )
