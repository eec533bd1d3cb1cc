"""Warnings for `flask rules check`: rules that load but will not behave as their author thinks."""

from __future__ import annotations

from collections import Counter

import regex

from app.dashly.parts import KNOWN_CHANNELS
from app.rules.examples import AIMED_PRECISION, ENOUGH_MEASURES
from app.rules.hours import MINUTES_PER_DAY, HourRange
from app.rules.matching import RuleSet
from app.rules.model import DRAFT_MARK, Rule
from app.similarity import words_of
from app.text import fold, normalise


def rule_warnings(rules: RuleSet) -> list[str]:
    """One `file:line: warning: ...` line per suspicious rule, in rule order."""
    return (
        shadowed_phrases(rules)
        + hours_that_never_occur(rules)
        + unknown_channels(rules)
        + confused_examples(rules)
        + thresholds_set_before_0_4(rules)
        + first_message_with_repeat(rules)
        + drafts(rules)
        + single_braces(rules)
        + mixed_alphabets(rules)
        + commas_in_phrases(rules)
        + fallbacks_at_all_hours(rules)
    )


def commas_in_phrases(rules: RuleSet) -> list[str]:
    """`["цена, стоимость"]` is one phrase that needs both words, comma and all, in a row:
    most likely two phrases were meant."""
    found = []
    for rule in rules.rules:
        for phrase in rule.phrases:
            parts = [part.strip() for part in phrase.text.split(",") if part.strip()]
            if len(parts) > 1:
                meant = ", ".join(f'"{part}"' for part in parts)
                found.append(
                    f"{rule.source}: warning: rule {rule.id!r}: phrase {phrase.text!r} has a "
                    f"comma inside its quotes; did you mean {len(parts)} phrases: [{meant}]?"
                )
    return found


_SINGLE_BRACES = regex.compile(r"(?<!\{)\{\s*(\w+)\s*\}(?!\})")


def single_braces(rules: RuleSet) -> list[str]:
    """`{name}` is sent as written: placeholders take two braces."""
    found = []
    for rule in rules.rules:
        for answer in rule.answers:
            for name in dict.fromkeys(_SINGLE_BRACES.findall(answer.source)):
                meant = "lead.name" if name.lower() in ("name", "имя") else f"match.{name}"
                found.append(
                    f"{rule.source}: warning: rule {rule.id!r}: {{{name}}} in an answer is sent "
                    f"as written; did you mean {{{{ {meant} }}}}?"
                )
    return found


_LATIN_LETTER = regex.compile(r"\p{Latin}")
_CYRILLIC_LETTER = regex.compile(r"\p{Cyrillic}")


def mixed_alphabets(rules: RuleSet) -> list[str]:
    """A word of a phrase or example mixing Latin and Cyrillic letters (a Latin "p" in
    "пpивет") never meets a word typed in one alphabet."""
    found = []
    for rule in rules.rules:
        texts = [phrase.text for phrase in rule.phrases] + list(rule.examples)
        for word in dict.fromkeys(w for text in texts for w in text.split()):
            latin, cyrillic = _LATIN_LETTER.findall(word), _CYRILLIC_LETTER.findall(word)
            if latin and cyrillic:
                odd = latin if len(latin) <= len(cyrillic) else cyrillic
                alphabet = "Latin" if odd is latin else "Cyrillic"
                found.append(
                    f"{rule.source}: warning: rule {rule.id!r}: {word!r} mixes Latin and "
                    f"Cyrillic letters ({alphabet} {odd[0]!r}); retype it in one alphabet"
                )
    return found


def fallbacks_at_all_hours(rules: RuleSet) -> list[str]:
    """A fallback without hours beside an out-of-office fallback answers at night too: after
    the out-of-office answer (once per conversation), the next unknown message gets it."""
    night = [r for r in rules.fallbacks if r.outside_hours]
    found = []
    for rule in rules.fallbacks:
        if rule.hours or rule.outside_hours:
            continue
        for office in night:
            if office.languages and rule.languages and not office.languages & rule.languages:
                continue
            hours = ", ".join(f'"{r}"' for r in office.outside_hours)
            zone = f' and timezone = "{office.timezone.key}"' if office.timezone else ""
            found.append(
                f"{rule.source}: warning: rule {rule.id!r}: a fallback without hours also "
                f"answers outside {office.id!r}'s hours (the second unknown message at night "
                f"gets it); give it hours = [{hours}]{zone}"
            )
            break
    return found


def drafts(rules: RuleSet) -> list[str]:
    return [
        f"{rule.source}: warning: rule {rule.id!r} is a draft: its answer still begins with "
        f"{DRAFT_MARK!r}, so it answers no lead until you write the answer"
        for rule in rules.rules
        if rule.draft
    ]


def confused_examples(rules: RuleSet) -> list[str]:
    """Examples that the decision, fitted without them, gives another rule confidently: a
    message like them may get the other rule's answer."""
    if rules.examples is None:
        return []
    return [
        f"{found.rule.source}: warning: rule {found.rule.id!r}: example {found.example!r} "
        f"would get rule {found.other.id!r} (confidence {found.confidence:.2f}) if it were not "
        f"among this rule's examples; "
        + _what_tells_them_apart(found.example, found.rule, found.other)
        for found in rules.examples.confusions
    ]


def _words(texts: tuple[str, ...] | list[str]) -> list[str]:
    return [word for text in texts for word in words_of(fold(normalise(text)))]


def _what_tells_them_apart(example: str, rule: Rule, other: Rule) -> str:
    """In the owner's terms: the words the example shares with the other rule's examples,
    and the words that differ, for the owner to put in more examples."""
    theirs, ours = set(_words(other.examples)), set(_words(rule.examples))
    said = list(dict.fromkeys(_words([example])))
    shared = [word for word in said if word in theirs][:3]
    both = f"both say {' '.join(shared)!r}; " if shared else ""
    # Words of four letters or more: "у", "вас", "you" tell no topic apart.
    mine = [word for word in said if word not in theirs and len(word) > 3][:2]
    if not mine:
        where = f"the examples of {other.id!r}"
        return f"{both}every word of it is in {where}: move it there, or reword it"
    counted = Counter(w for w in _words(other.examples) if w not in ours and len(w) > 3)
    telling = ", ".join(repr(word) for word in [*mine, *(w for w, _ in counted.most_common(2))])
    return f"{both}add the words that differ ({telling}) to more of the two rules' examples"


def example_thresholds(rules: RuleSet) -> str | None:
    """What the example decision asks of a message, calibrated on the owner's examples."""
    index = rules.examples
    if index is None:
        return None
    how = (
        f"calibrated so that {AIMED_PRECISION:.0%} of the examples, each held out, get "
        "their own rule"
        if len(index.examples) >= ENOUGH_MEASURES
        else f"the default: fewer than {ENOUGH_MEASURES} examples to calibrate on"
    )
    return (
        f"examples: {len(index.examples)} in {len(index.rules)} rules; confidence threshold "
        f"{index.calibrated:.2f} ({how}); nearness floor {index.floor:.2f}"
    )


def thresholds_set_before_0_4(rules: RuleSet) -> list[str]:
    """`min_similarity` and MATCH_MIN_SIMILARITY set the confidence since 0.4.0: one line
    each where a value is set, with the calibrated one to compare."""
    index = rules.examples
    if index is None:
        return []
    found = [
        f"{rule.source}: warning: rule {rule.id!r}: min_similarity {rule.min_similarity} is "
        f"the confidence an example match needs since 0.4.0 (it was the similarity); the "
        f"calibrated one is {index.calibrated:.2f}"
        for rule in index.rules
        if rule.min_similarity is not None
    ]
    if rules.min_similarity is not None:
        found.append(
            f"warning: MATCH_MIN_SIMILARITY {rules.min_similarity} is the confidence an "
            f"example match needs since 0.4.0 (it was the similarity); the calibrated one "
            f"is {index.calibrated:.2f}"
        )
    return found


def first_message_with_repeat(rules: RuleSet) -> list[str]:
    return [
        f"{rule.source}: warning: rule {rule.id!r}: 'repeat' changes nothing for a rule with "
        "'first_message': a conversation has one first message"
        for rule in rules.rules
        if rule.first_message and rule.repeat
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
                warnings += _inside_earlier(rule, phrase.text, first_owner)
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


def _inside_earlier(rule: Rule, text: str, first_owner: dict[str, Rule]) -> list[str]:
    """A longer phrase ("express delivery") holding an earlier rule's shorter one ("delivery"):
    a message with it matches the earlier rule first."""
    words = text.split(" ")
    for size in range(len(words) - 1, 0, -1):
        for start in range(len(words) - size + 1):
            part = " ".join(words[start : start + size])
            owner = first_owner.get(part)
            if owner is not None and owner is not rule:
                return [
                    f"{rule.source}: warning: rule {rule.id!r}: phrase {text!r} holds "
                    f"{part!r} of rule {owner.id!r} ({owner.source}), which comes first and "
                    f"answers such messages; give this rule a higher priority"
                ]
    return []


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
