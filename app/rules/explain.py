"""Which rule would answer a message and why: shared by `flask rules try` and /admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.rules.matching import RuleSet
from app.rules.model import Rule
from app.rules.templates import Answer
from app.text import as_written, fold, normalise


@dataclass(frozen=True)
class Explanation:
    """The answering rule (None: no match), what matched where, and the rendered answers."""

    rule_id: str | None
    source: str = ""
    fallback: bool = False
    matched: str = ""
    seen: str = ""
    span: tuple[int, int] = (0, 0)
    groups: tuple[tuple[str, str], ...] = ()
    answers: tuple[str, ...] = ()
    # What delivery would send about the lead: properties (empty ones left out) and the event.
    props: tuple[tuple[str, str], ...] = ()
    event: str | None = None
    event_params: tuple[tuple[str, str], ...] = ()
    # Every call the rule makes besides the answer, in the order delivery makes them.
    actions: tuple[str, ...] = ()


def explain(rules: RuleSet, text: str, at: datetime | None, lead_name: str | None) -> Explanation:
    found = rules.match(text, at)
    if found is None:
        fallback = next(rules.active_fallbacks(at), None)
        if fallback is None:
            return Explanation(rule_id=None)
        return Explanation(
            rule_id=fallback.id,
            source=str(fallback.source),
            fallback=True,
            matched="fallback",
            answers=tuple(a.render({}, lead_name) for a in fallback.answers),
            **lead_calls(fallback, {}, lead_name, text),
        )
    start, end = found.span
    # Phrases are found in the folded text, patterns in the normalised one.
    searched = fold(normalise(text)) if found.matched.startswith("phrase") else normalise(text)
    return Explanation(
        rule_id=found.rule.id,
        source=str(found.rule.source),
        matched=found.matched,
        seen=searched[start:end],
        span=found.span,
        groups=tuple(found.groups.items()),
        answers=tuple(a.render(found.groups, lead_name) for a in found.rule.answers),
        **lead_calls(found.rule, found.groups, lead_name, text),
    )


def lead_calls(
    rule: Rule, groups: dict[str, str], lead_name: str | None, text: str
) -> dict[str, Any]:
    def rendered(pairs: tuple[tuple[str, Answer], ...]) -> tuple[tuple[str, str], ...]:
        values = ((name, answer.render(groups, lead_name)) for name, answer in pairs)
        return tuple((name, value) for name, value in values if value)

    props, params = rendered(rule.props), rendered(rule.event_params)
    actions: list[str] = []
    if rule.note is not None:
        note = rule.note.render(groups, lead_name, as_written(text))
        actions.append(f"note for the operators: {note}")
    actions += [f"tag: {tag}" for tag in rule.tags]
    if rule.assign:
        actions.append(f"hand over to operator {rule.assign} (the bot is silent there after)")
    if rule.close:
        actions.append("close the conversation")
    actions += [f"lead property: {key} = {value!r}" for key, value in props]
    if rule.event:
        listed = ", ".join(f"{key}={value!r}" for key, value in params)
        actions.append(f"event: {rule.event}" + (f" ({listed})" if listed else ""))
    return {"props": props, "event": rule.event, "event_params": params, "actions": tuple(actions)}
