"""Edited rules run over stored lead messages: which unanswered ones they would now answer, and
which answered ones would get another rule. Conversation memory is left out (each message is
judged alone, as `rules try` does); channels, hours, the conversation's tags and whether it was
its first lead message are judged as when the lead wrote."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from app.handling.decide import Outcome
from app.insight.report import is_unanswered
from app.rules.building import build_rule_set
from app.rules.matching import RuleSet
from app.rules.reading import load_rules
from app.store import StoredMessage
from app.text import normalise

EXAMPLES = 3


@dataclass
class Replay:
    """What edited rules would change."""

    messages: int = 0
    unanswered: int = 0
    # rule id -> examples of unanswered messages it would now answer
    newly: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    newly_counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # (rule before, rule now) -> examples
    changed: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    changed_counts: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    # Set when the deadline stopped it: how many messages there were to replay.
    cut_off_of: int | None = None


def replay(
    rules: RuleSet,
    messages: Sequence[StoredMessage],
    seen: Callable[[], None] = lambda: None,
    seconds: float | None = None,
) -> Replay:
    """Run `rules` over stored lead messages; with `seconds`, stop when they are spent (saying
    so, and how far it got)."""
    found = Replay()
    ends = time.monotonic() + seconds if seconds is not None else None
    for message in messages:
        if ends is not None and time.monotonic() > ends:
            found.cut_off_of = len(messages)
            break
        seen()
        found.messages += 1
        now = _rule_now(rules, message)
        text, rule_id = message.text, message.rule_id
        if is_unanswered(message.status, message.fallback):
            found.unanswered += 1
            if now is not None:
                _note(found.newly, found.newly_counts, now, text)
        elif message.status == Outcome.REPLIED and rule_id and now is not None and now != rule_id:
            _note(found.changed, found.changed_counts, (rule_id, now), text)
    return found


def _rule_now(rules: RuleSet, message: StoredMessage) -> str | None:
    """The rule that would answer `message` now, judged as when it came."""
    matches = rules.iter_matches_normalised(
        # Stored as the lead wrote it (read as matching reads it here).
        normalise(message.text),
        datetime.fromtimestamp(message.received_at, UTC),
        tags=message.tags,
    )
    return next(
        (
            m.rule.id
            for m in matches
            if m.rule.answers_on(message.sent_via)
            and m.rule.fits_first_message(not message.first_message)
        ),
        None,
    )


def _note(examples: dict, counts: dict, key: object, text: str) -> None:
    counts[key] += 1
    if len(examples[key]) < EXAMPLES:
        examples[key].append(text)


def with_draft(current: RuleSet, draft_folder: Path) -> RuleSet:
    """The current rules with the rules of a draft added, a draft rule replacing the current
    rule of the same id; raises RulesError (file:line) when the draft is broken."""
    draft = load_rules(draft_folder, current.timezone, current.min_similarity)
    replaced = {rule.id for rule in draft.rules}
    kept = [rule for rule in current.rules if rule.id not in replaced]
    # File order: the current rules, then the draft (priorities still come first).
    merged = sorted(kept, key=lambda rule: rule.order) + list(draft.rules)
    return build_rule_set(
        merged,
        [*current.files, *draft.files],
        current.timezone,
        current.min_similarity,
        with_drafts=True,
    )
