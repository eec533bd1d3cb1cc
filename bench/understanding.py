"""What the rules understand, on labelled lead messages written for the project (Russian and
English): for each set, how many messages got the rule meant (right), another rule (wrong), or
no rule where one was meant (missed; the fallback answered), and which.

    .venv/bin/python bench/understanding.py            every set in bench/understanding/
    .venv/bin/python bench/understanding.py --verbose  and every message that went wrong

A set is a TOML file of `[[case]]` tables (`text`, `expect`: a rule id, or "-" when no rule
should answer) with `rules` naming its rules folder, relative to the file. Messages are judged
on a Wednesday at noon UTC. Results are in docs/understanding.md.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.rules import load_rules  # noqa: E402

SETS = ROOT / "bench" / "understanding"
AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Outcome:
    text: str
    expected: str
    got: str

    @property
    def kind(self) -> str:
        if self.got == self.expected:
            return "right"
        return "missed" if self.got == "-" else "wrong"


def judge(path: Path) -> list[Outcome]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    rules = load_rules((path.parent / data["rules"]).resolve())
    outcomes = []
    for case in data["case"]:
        found = rules.match(case["text"], AT)
        outcomes.append(Outcome(case["text"], case["expect"], found.rule.id if found else "-"))
    return outcomes


def main(verbose: bool) -> None:
    print(f"{'set':12} {'messages':>8} {'right':>6} {'wrong':>6} {'missed':>6}")
    for path in sorted(SETS.glob("*.toml")):
        outcomes = judge(path)
        counts = {
            kind: sum(o.kind == kind for o in outcomes) for kind in ("right", "wrong", "missed")
        }
        print(
            f"{path.stem:12} {len(outcomes):>8} {counts['right']:>6} {counts['wrong']:>6} "
            f"{counts['missed']:>6}"
        )
        if verbose:
            for outcome in outcomes:
                if outcome.kind != "right":
                    meant = f"{outcome.got} (meant {outcome.expected})"
                    print(f"    {outcome.kind:6} {outcome.text!r}: {meant}")


if __name__ == "__main__":
    main("--verbose" in sys.argv[1:])
