"""A rule's regex phrases and patterns tried on one message, each under a time limit, with
cheap tests first (a search with a time limit costs several microseconds)."""

from __future__ import annotations

import logging
import time
from typing import Any

from app.rules.literals import has_marks
from app.rules.model import PATTERN_TIMEOUT_SECONDS, Rule, RuleMatch

log = logging.getLogger(__name__)


def scan(
    rule: Rule, normalised: str, folded: str, text_bigrams: set[str], deadline: float
) -> RuleMatch | None:
    """Try a rule's regex phrases and patterns, each under a time limit, skipping those that
    a cheap test rules out (a search with a time limit costs several microseconds)."""
    for phrase in rule.phrases:
        if phrase.pattern is not None and phrase.may_occur_in(folded, text_bigrams):
            found = search(rule, phrase.pattern, folded, deadline)
            if found:
                if any(found.fuzzy_counts):
                    matched, how = f"phrase {phrase.text!r} with a typo", "typo"
                else:
                    matched, how = f"phrase {phrase.text!r}", "phrase"
                return RuleMatch(rule, matched, found.span(), how=how)
    needs = zip(rule.patterns, rule.pattern_literals, rule.pattern_marks, strict=True)
    for pattern, literals, marks in needs:
        if literals is not None and not any(
            all(literal in folded for literal in branch) for branch in literals
        ):
            continue  # every branch lacks a literal it needs: no search can succeed
        if marks is not None and not has_marks(marks, normalised):
            continue  # likewise for a mark: an e-mail pattern on a text with no "@"
        found = search(rule, pattern, normalised, deadline)
        if found:
            groups = {k: v for k, v in found.groupdict().items() if v is not None}
            # As the owner wrote it: a repr would double every backslash.
            matched = f"pattern '{pattern.pattern}'"
            return RuleMatch(rule, matched, found.span(), groups, how="pattern")
    return None


def search(rule: Rule, pattern: Any, text: str, deadline: float) -> Any:
    """One search under the pattern's own time limit and what is left of the message's."""
    left = deadline - time.monotonic()
    if left <= 0:
        log.warning("event=patterns_budget_spent rule=%s chars=%d", rule.id, len(text))
        return None
    try:
        return pattern.search(text, timeout=min(PATTERN_TIMEOUT_SECONDS, left))
    except TimeoutError:
        log.warning(
            "event=pattern_timeout rule=%s pattern=%r chars=%d",
            rule.id,
            pattern.pattern,
            len(text),
        )
        return None
