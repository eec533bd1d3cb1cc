"""The rule language: TOML files with file:line errors, compiled once, matched by a word index.

What the rest of the service may use is named here; the modules below are its rooms.
"""

from app.rules.building import build_rule_set
from app.rules.matching import RuleSet
from app.rules.model import (
    PATTERN_FLAGS,
    PATTERN_TIMEOUT_SECONDS,
    WORD,
    Phrase,
    Rule,
    RuleMatch,
    RulesError,
    Source,
)
from app.rules.reading import load_rules

__all__ = [
    "PATTERN_FLAGS",
    "PATTERN_TIMEOUT_SECONDS",
    "WORD",
    "Phrase",
    "Rule",
    "RuleMatch",
    "RuleSet",
    "RulesError",
    "Source",
    "build_rule_set",
    "load_rules",
]
