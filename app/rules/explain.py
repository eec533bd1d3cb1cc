"""Which rule would answer a message and why: shared by `flask rules try` and /admin."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from app.rules.matching import RuleSet
from app.rules.model import Rule, RuleMatch
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
    # phrase, word form, typo, pattern or fallback
    how: str = ""
    # When it was judged, in which time zone, and the answering rule's hours.
    judged: str = ""
    # The other rules that match, and why each did not answer.
    runner_ups: tuple[str, ...] = ()
    # The rules whose examples come nearest, with the similarity and the threshold.
    nearest: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """The explanation as `flask rules try` prints it and /admin shows it."""
        if self.rule_id is None:
            return ["no match", *self.nearest, *self.runner_ups, self.judged]
        if self.fallback:
            lines = [f"rule: {self.rule_id} (fallback, {self.source}): no other rule matched"]
        else:
            start, end = self.span
            lines = [
                f"rule: {self.rule_id} ({self.source})",
                f"matched: {self.matched} on {self.seen!r} at characters {start}-{end}",
            ]
        lines += [f"  match.{key} = {value!r}" for key, value in self.groups]
        many = len(self.answers) > 1
        for number, answer in enumerate(self.answers, start=1):
            lines.append(
                f"{f'answer {number}/{len(self.answers)}' if many else 'answer'}: {answer}"
            )
        extra = [*self.actions, *self.nearest, *self.runner_ups]
        return [*lines, *extra, self.judged]


# At most this many other matching rules are listed.
RUNNER_UPS = 3


@dataclass(frozen=True)
class Conversation:
    """What the message's conversation is like: the channel it came through (`sent_via`),
    its tags, and whether this is its first lead message. By default a first message of an
    untagged conversation on any channel, as `RuleSet.match` judges."""

    channel: str = ""
    tags: frozenset[str] = frozenset()
    first: bool = True

    def allows(self, rule: Rule) -> bool:
        """Whether the rule may answer here (else it is skipped, as for another channel);
        the tags are judged by the rule set itself."""
        on_channel = not self.channel or rule.answers_on(self.channel)
        return on_channel and (self.first or not rule.first_message)


def explain(
    rules: RuleSet,
    text: str,
    at: datetime | None,
    lead_name: str | None,
    conversation: Conversation = Conversation(),
) -> Explanation:
    at = at or datetime.now(UTC)
    normalised = normalise(text)
    found_all = rules.iter_matches_normalised(normalised, at, tags=conversation.tags)
    answering = [match for match in found_all if conversation.allows(match.rule)]
    found = answering[0] if answering else None
    others = runner_ups(rules, normalised, at, answering)
    # Beside a phrase or pattern match, how near the examples come says nothing new.
    near = nearest_examples(rules, normalised) if found is None or found.how == "example" else ()
    if found is None:
        fallbacks = rules.active_fallbacks(at, normalised, conversation.tags)
        fallback = next((rule for rule in fallbacks if conversation.allows(rule)), None)
        unanswered = Explanation(None, runner_ups=others, nearest=near)
        return _by_fallback(rules, fallback, text, at, lead_name, unanswered)
    start, end = found.span
    # Phrases are found in the folded text, patterns in the normalised one.
    searched = normalised if found.how == "pattern" else fold(normalised)
    return Explanation(
        rule_id=found.rule.id,
        source=str(found.rule.source),
        matched=found.matched,
        how=found.how,
        seen=searched[start:end],
        span=found.span,
        groups=tuple(found.groups.items()),
        answers=tuple(a.render(found.groups, lead_name) for a in found.rule.answers),
        judged=judged(rules, found.rule, at),
        runner_ups=others,
        nearest=near,
        **lead_calls(found.rule, found.groups, lead_name, text),
    )


# The rules with examples listed by nearness.
NEAREST = 2


def nearest_examples(rules: RuleSet, normalised: str) -> tuple[str, ...]:
    """The rules the example decision ranks first for the message (what it says besides
    small talk): each with its confidence and threshold, its nearest example and how near
    the message is to its examples (and the floor)."""
    if rules.examples is None:
        return ()
    words = rules.compared_with_examples(normalised)
    lines = []
    for near in rules.examples.ranked(words, None, NEAREST):
        if near.reached:
            verdict = "reached"
        elif near.confidence < near.threshold:
            verdict = "not confident enough"
        else:
            verdict = "too far from its examples"
        lines.append(
            f"examples: {near.rule.id}, confidence {near.confidence:.2f} (threshold "
            f"{near.threshold:.2f}), nearest example {near.example!r}, similarity "
            f"{near.similarity:.2f} (floor {near.floor:.2f}) ({verdict})"
        )
    return tuple(lines)


def runner_ups(
    rules: RuleSet, normalised: str, at: datetime, answering: list[RuleMatch]
) -> tuple[str, ...]:
    """The other rules that match, each with why it did not answer: later in the order, only
    small talk beside a question, or asleep at this hour."""
    listed = {m.rule.id for m in answering[:1]}
    lines = [f"runner-up: {m.rule.id}, {m.matched} (later in the order)" for m in answering[1:]]
    listed.update(m.rule.id for m in answering)
    for match in rules.iter_matches_normalised(normalised, at, small_talk_yields=False):
        if match.rule.id not in listed:
            listed.add(match.rule.id)
            lines.append(
                f"runner-up: {match.rule.id}, {match.matched} (only small talk: it yields "
                "to the rest of the message)"
            )
    for match in rules.iter_matches_normalised(normalised, at, any_time=True):
        if match.rule.id not in listed:
            listed.add(match.rule.id)
            lines.append(f"runner-up: {match.rule.id}, {match.matched} (outside its hours now)")
    return tuple(lines[:RUNNER_UPS])


def judged(rules: RuleSet, rule: Rule | None, at: datetime) -> str:
    """The moment and time zone the hours were judged by, and the rule's hours."""
    zone = (rule.timezone if rule else None) or rules.timezone
    moment = at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M")
    line = f"judged at {moment} {zone.key}"
    if rule is not None and rule.hours:
        line += f"; its hours: {', '.join(map(str, rule.hours))}"
    elif rule is not None and rule.outside_hours:
        line += f"; it answers outside: {', '.join(map(str, rule.outside_hours))}"
    return line


def _by_fallback(
    rules: RuleSet,
    fallback: Rule | None,
    text: str,
    at: datetime,
    lead_name: str | None,
    unanswered: Explanation,
) -> Explanation:
    """The fallback's explanation (None: no match), with what was found without it."""
    if fallback is None:
        return replace(unanswered, judged=judged(rules, None, at))
    return replace(
        unanswered,
        rule_id=fallback.id,
        source=str(fallback.source),
        fallback=True,
        matched="fallback",
        how="fallback",
        answers=tuple(a.render({}, lead_name) for a in fallback.answers),
        judged=judged(rules, fallback, at),
        **lead_calls(fallback, {}, lead_name, text),
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
