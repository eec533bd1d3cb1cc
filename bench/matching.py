"""Matching cost per message at 100, 1,000 and 10,000 rules, against the designs a user would
otherwise run (bench/baselines.py), plus load time and a worker's memory at 10,000 rules.

    make bench            (or: .venv/bin/python bench/matching.py)
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.rules import load_rules
from bench.baselines import (
    HelpPageMatcher,
    PlainLoopMatcher,
    generate_messages,
    generate_rules,
    write_rule_files,
)

SIZES = (100, 1_000, 10_000)
MESSAGES = 300
# The help page's design is so slow at scale that it runs on fewer messages.
HELP_PAGE_MESSAGES = {100: 300, 1_000: 60, 10_000: 10}
# `make bench` runs a quick round (fewer repeats, the slow baselines on fewer messages);
# BENCH_FULL=1 the full one.
FULL = os.environ.get("BENCH_FULL", "") not in ("", "0")
REPEAT = 5 if FULL else 2
if not FULL:
    HELP_PAGE_MESSAGES = {100: 100, 1_000: 20, 10_000: 3}
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def per_message_us(match, messages: list[str], repeat: int = REPEAT) -> float:
    """Best of `repeat` runs over all messages (after one warm-up), in microseconds per
    message."""
    for message in messages[:50]:
        match(message, NOON)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for message in messages:
            match(message, NOON)
        best = min(best, time.perf_counter() - started)
    return best / len(messages) * 1e6


def worker_memory_mb(folder: Path) -> float:
    """Resident memory a fresh Python process gains by loading the rules."""
    script = (
        "import resource, sys; from app.rules import load_rules\n"
        "def rss():\n"
        "    return int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize()\n"
        "before = rss(); rules = load_rules(sys.argv[1]); print((rss() - before) / 1e6)"
    )
    output = subprocess.run(
        [sys.executable, "-c", script, str(folder)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return float(output.stdout.strip())


def main() -> int:
    print(
        f"matching benchmark, {datetime.now():%Y-%m-%d}, {platform.machine()} "
        f"{platform.processor() or ''} Python {platform.python_version()}, "
        f"{MESSAGES} messages (a third containing a phrase)"
    )
    print(
        f"{'rules':>7} {'load s':>7} {'ours us':>9} {'plain us':>10} {'help us':>11} "
        f"{'x plain':>8} {'x help':>8} {'agree':>6}"
    )
    ours_cost = {}
    results = {}
    with tempfile.TemporaryDirectory() as temp:
        for size in SIZES:
            generated = generate_rules(size)
            folder = Path(temp) / str(size)
            write_rule_files(generated, folder)
            started = time.perf_counter()
            rules = load_rules(folder)
            load_seconds = time.perf_counter() - started
            messages = generate_messages(generated, MESSAGES)
            plain = PlainLoopMatcher(rules)
            help_page = HelpPageMatcher(generated)

            def ours(text, at, rules=rules):
                found = rules.match(text, at)
                return found.rule.id if found else None

            agree = all(ours(m, NOON) == plain.match(m, NOON) for m in messages)
            ours_us = per_message_us(ours, messages)
            plain_us = per_message_us(plain.match, messages if FULL else messages[:100])
            help_us = per_message_us(help_page.match, messages[: HELP_PAGE_MESSAGES[size]], 1)
            ours_cost[size] = ours_us
            results[size] = (load_seconds, ours_us, plain_us, help_us)
            print(
                f"{size:>7,} {load_seconds:>7.2f} {ours_us:>9.1f} {plain_us:>10.1f} "
                f"{help_us:>11.1f} {plain_us / ours_us:>7.0f}x {help_us / ours_us:>7.0f}x "
                f"{'yes' if agree else 'NO':>6}"
            )
        memory = worker_memory_mb(Path(temp) / "10000")
    growth = ours_cost[10_000] / ours_cost[100]
    load_10k, ours_1k, plain_1k, help_1k = results[10_000][0], *results[1_000][1:]
    print(f"memory of a worker holding 10,000 rules: {memory:.0f} MB")
    print(f"per-message cost from 100 to 10,000 rules grows {growth:.1f}x")
    checks = [
        (
            f"1,000 rules: {plain_1k / ours_1k:.0f}x faster than the plain loop (>= 10x)",
            plain_1k / ours_1k >= 10,
        ),
        (
            f"1,000 rules: {help_1k / ours_1k:.0f}x faster than the help page (>= 100x)",
            help_1k / ours_1k >= 100,
        ),
        (f"100 -> 10,000 rules: cost grows {growth:.1f}x (<= 3x)", growth <= 3),
        (f"10,000 rules load in {load_10k:.2f} s (< 2 s)", load_10k < 2),
    ]
    for text, ok in checks:
        print(f"  {'ok  ' if ok else 'MISS'} {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
