"""Matching's CPU per message for the code at ROOT, at 100, 1,000 and 10,000 generated rules
(best of five passes): run it for two checkouts, alternately, to price a change on a machine
whose timings drift.

    .venv/bin/python bench/matching_ab.py /path/to/checkout-before
    .venv/bin/python bench/matching_ab.py .
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
sys.path.insert(0, str(ROOT))

from app.rules import load_rules  # noqa: E402
from bench.baselines import generate_messages, generate_rules, write_rule_files  # noqa: E402

AT = datetime(2026, 11, 25, 12, tzinfo=UTC)


def cpu_per_message(size: int) -> float:
    folder = Path(tempfile.mkdtemp())
    generated = generate_rules(size, seed=7, pattern_share=0.2)
    write_rule_files(generated, folder, per_file=1000)
    rules = load_rules(folder)
    messages = generate_messages(generated, 300, seed=7)
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for message in messages:
            rules.match(message, AT)
        best = min(best, (time.process_time() - started) / len(messages) * 1e6)
    return best


if __name__ == "__main__":
    figures = "  ".join(f"{size}: {cpu_per_message(size):.1f} µs" for size in (100, 1000, 10_000))
    print(f"{ROOT}  {figures}")
