"""Precision and coverage of `examples` on BANKING77 (PolyAI, CC BY 4.0: English questions to an
online bank's support, 77 intents): each intent a rule with 10 examples drawn from the train
split, for seeds 0-4; the whole test split as lead messages; the shipped default (calibrated
threshold, nothing set). The data is read from a folder given on the command line, never
downloaded.

    .venv/bin/python bench/banking77.py ../shared/data/banking77

Precision: right answers among answers. Coverage: test questions answered. The worst seed is
the figure to report (docs/understanding.md).
"""

from __future__ import annotations

import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.rules import load_rules  # noqa: E402

SEEDS = range(5)
PER_INTENT = 10


def read_split(folder: Path, name: str) -> list[tuple[str, str]]:
    with (folder / f"{name}.csv").open(encoding="utf-8") as rows:
        return [(row["text"], row["category"]) for row in csv.DictReader(rows)]


def rule_id(category: str) -> str:
    return "".join(ch for ch in category if ch.isalnum() or ch in "-_")


def rules_for(train: list[tuple[str, str]], seed: int) -> str:
    """One rule per intent, its examples drawn with `seed`."""
    by_intent: dict[str, list[str]] = {}
    for text, category in train:
        by_intent.setdefault(category, []).append(text)
    rng = random.Random(seed)
    tables = []
    for category in sorted(by_intent):
        examples = rng.sample(by_intent[category], PER_INTENT)
        tables.append(
            f'[[rule]]\nid = "{rule_id(category)}"\nanswer = "{rule_id(category)}"\n'
            f"examples = {json.dumps(examples, ensure_ascii=False)}\n"
        )
    return "\n".join(tables)


def main(folder: Path) -> None:
    train, test = read_split(folder, "train"), read_split(folder, "test")
    print(f"BANKING77: {PER_INTENT} examples per intent, {len(test)} test questions")
    print(
        f"{'seed':>4} {'load s':>7} {'threshold':>9} {'precision':>9} {'coverage':>8} {'µs/msg':>7}"
    )
    worst = None
    for seed in SEEDS:
        with tempfile.TemporaryDirectory() as temp:
            Path(temp, "rules.toml").write_text(rules_for(train, seed), encoding="utf-8")
            started = time.perf_counter()
            rules = load_rules(temp)
            load_seconds = time.perf_counter() - started
        assert rules.examples is not None
        right = answered = 0
        started = time.process_time()
        for text, category in test:
            found = rules.match(text)
            answered += found is not None
            right += found is not None and found.rule.id == rule_id(category)
        cpu_us = (time.process_time() - started) / len(test) * 1e6
        precision, coverage = right / max(answered, 1), answered / len(test)
        print(
            f"{seed:>4} {load_seconds:>7.2f} {rules.examples.calibrated:>9.3f} "
            f"{precision:>9.1%} {coverage:>8.1%} {cpu_us:>7.0f}"
        )
        if worst is None or precision < worst[0]:
            worst = (precision, coverage, seed)
    assert worst is not None
    print(f"worst seed {worst[2]}: precision {worst[0]:.1%} while answering {worst[1]:.1%}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench/banking77.py FOLDER (holding train.csv and test.csv)")
    main(Path(sys.argv[1]))
