"""Precision and coverage of phrases, examples and both, on the labelled set in bench/meaning/
(support questions from eight kinds of business, Russian and English, written for the
project): each intent becomes a rule; its held-out questions, never in a rule, are the test.

    .venv/bin/python bench/meaning.py              the table in docs/understanding.md
    .venv/bin/python bench/meaning.py --verbose    and every wrong answer

Per business (4-5 rules) and per language with every business's rules in one set (16-17
rules, harder: neighbouring intents of different shops), for the `tune` files (used to
choose the similarity and its calibration) and the `report` files (kept apart). Precision:
right answers among all answers, answers to unrelated questions counted wrong. Coverage:
held-out questions answered (by any rule). Default threshold: calibrated, nothing set.
"""

from __future__ import annotations

import json
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.rules import load_rules  # noqa: E402

SETS = ROOT / "bench" / "meaning"
KINDS = ("phrases", "examples", "both")


@dataclass(frozen=True)
class Tally:
    questions: int = 0
    answered: int = 0
    right: int = 0
    unrelated: int = 0
    unrelated_answered: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            *(a + b for a, b in zip(vars(self).values(), vars(other).values(), strict=True))
        )

    @property
    def precision(self) -> float:
        given = self.answered + self.unrelated_answered
        return self.right / given if given else 1.0

    @property
    def coverage(self) -> float:
        return self.answered / self.questions if self.questions else 0.0


def rules_toml(intents: list[dict], kind: str) -> str:
    tables = []
    for intent in intents:
        lines = ["[[rule]]", f"id = {json.dumps(intent['id'])}", f'answer = "{intent["id"]}"']
        if kind in ("phrases", "both"):
            lines.append(f"phrases = {json.dumps(intent['phrases'], ensure_ascii=False)}")
        if kind in ("examples", "both"):
            lines.append(f"examples = {json.dumps(intent['examples'], ensure_ascii=False)}")
        tables.append("\n".join(lines))
    return "\n\n".join(tables) + "\n"


def judge(intents: list[dict], unrelated: list[str], kind: str, verbose: bool) -> Tally:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "rules.toml").write_text(rules_toml(intents, kind), encoding="utf-8")
        rules = load_rules(folder)
    tally = Tally()
    for intent in intents:
        for question in intent["held_out"]:
            found = rules.match(question)
            right = found is not None and found.rule.id == intent["id"]
            tally += Tally(1, found is not None, right)
            if verbose and found is not None and not right:
                print(f"      {kind}: {question!r} -> {found.rule.id} (meant {intent['id']})")
    for question in unrelated:
        found = rules.match(question)
        tally += Tally(unrelated=1, unrelated_answered=found is not None)
        if verbose and found is not None:
            print(f"      {kind}: unrelated {question!r} -> {found.rule.id}")
    return tally


def collections() -> list[tuple[str, str, str, list[dict], list[str]]]:
    """(name, language, split, intents, unrelated): each business, then each language's
    businesses of one split together."""
    found, merged = [], {}
    for path in sorted(SETS.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        found.append(
            (path.stem, data["language"], data["split"], data["intent"], data["unrelated"])
        )
        key = (data["language"], data["split"])
        merged.setdefault(key, []).extend(data["intent"])
    for (language, split), intents in sorted(merged.items()):
        found.append((f"{language} all {split}", language, split, intents, []))
    return found


def main(verbose: bool) -> None:
    header = f"{'set':18} {'split':6} {'rules':>5}"
    for kind in KINDS:
        header += f" | {kind:>8} prec  cov"
    print(header)
    totals: dict[tuple[str, str], Tally] = {}
    for name, language, split, intents, unrelated in collections():
        row = f"{name:18} {split:6} {len(intents):>5}"
        for kind in KINDS:
            tally = judge(intents, unrelated, kind, verbose)
            if " all " not in name:
                key = (f"{language} {split}", kind)
                totals[key] = totals.get(key, Tally()) + tally
            row += f" | {'':>8} {tally.precision:4.0%} {tally.coverage:4.0%}"
        print(row)
    for group in sorted({key for key, _ in totals}):
        row = f"{group + ' (sum)':18} {'':6} {'':>5}"
        for kind in KINDS:
            tally = totals[(group, kind)]
            row += f" | {'':>8} {tally.precision:4.0%} {tally.coverage:4.0%}"
        print(row)


if __name__ == "__main__":
    main("--verbose" in sys.argv[1:])
