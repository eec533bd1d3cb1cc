"""Which reply a lead message gets, given what the conversation remembers (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.actions import Assign, Reply, Tag
from app.handling.decide import Outcome, decide, random_id_for, silence_reason
from app.rules import RuleSet, load_rules
from app.store import ConversationMemory
from tests.helpers import write_rules

NOW = 1_000_000.0
FRESH = ConversationMemory()


@pytest.fixture
def rules(tmp_path: Path) -> RuleSet:
    write_rules(
        tmp_path,
        '[[rule]]\nid = "hi"\nphrases = ["hello"]\nanswer = "Hi"\n'
        '[[rule]]\nid = "again"\nphrases = ["hello"]\nanswer = "Hi again"\nrepeat = true\n'
        '[[rule]]\nid = "human"\nphrases = ["operator"]\nanswer = "Passing you on"\n'
        'tag = ["handoff", "vip"]\nassign = 14709\n'
        '[[rule]]\nid = "later"\nfallback = true\nanswer = "Soon"\n',
    )
    return load_rules(tmp_path)


def choose(rules: RuleSet, text: str, memory: ConversationMemory = FRESH, **kw):
    return decide(
        part_id="9",
        conversation="5",
        lead_id="77",
        matches=list(rules.iter_matches(text)),
        fallbacks=list(rules.active_fallbacks()),
        memory=memory,
        now=kw.get("now", NOW),
        quiet_minutes=kw.get("quiet_minutes", 60),
    )


def test_first_unused_rule_then_repeatable_rule(rules: RuleSet) -> None:
    assert choose(rules, "hello").rule_id == "hi"
    used = ConversationMemory(answered_rules=frozenset({"hi"}))
    assert choose(rules, "hello", used).rule_id == "again"
    used = ConversationMemory(answered_rules=frozenset({"hi", "again"}))
    assert choose(rules, "hello", used).rule_id == "again"


def test_fallback_once_then_no_match(rules: RuleSet) -> None:
    assert choose(rules, "what?").rule_id == "later"
    decision = choose(rules, "what?", ConversationMemory(answered_rules=frozenset({"later"})))
    assert (decision.status, decision.reply) == (Outcome.NO_MATCH, None)


def test_quiet_after_an_operator_for_the_configured_minutes(rules: RuleSet) -> None:
    spoke = ConversationMemory(operator_at=NOW - 59 * 60)
    assert choose(rules, "hello", spoke).status == Outcome.IGNORED
    assert (
        choose(rules, "hello", ConversationMemory(operator_at=NOW - 61 * 60)).status
        == Outcome.REPLIED
    )
    assert choose(rules, "hello", spoke, quiet_minutes=0).status == Outcome.REPLIED


def test_silent_for_good_after_a_handoff(rules: RuleSet) -> None:
    handed = ConversationMemory(handed_off_at=NOW - 90 * 24 * 3600)
    assert silence_reason(handed, NOW, 0) == "handed off to an operator"
    assert choose(rules, "hello", handed).status == Outcome.IGNORED


def test_reply_actions_reply_then_assign_then_tags(rules: RuleSet) -> None:
    decision = choose(rules, "an operator please")
    assert decision.reply.actions == (
        Reply(body="Passing you on"),
        Assign("14709"),
        Tag("handoff"),
        Tag("vip"),
    )
    assert decision.reply.hands_off
    assert decision.reply.random_id == random_id_for("9")


def test_random_id_is_stable_and_31_bit() -> None:
    ids = {random_id_for(str(n)) for n in range(1000)}
    assert len(ids) == 1000
    assert all(0 < i < 2**31 for i in ids)
    # A literal, not a second call: the id must be the same in every process and release (a
    # reply resent after a restart carries it, and Dashly's echo is recognised by it), which a
    # per-process hash would pass within one run and fail across two.
    assert random_id_for("1983951193033934722") == 398335448
