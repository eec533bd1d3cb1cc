"""What a dyno's boot and every `heroku run flask ...` pay: `create_app()` in a fresh process,
with the shipped rules and with 10,000 generated phrase rules; five runs each, the worst
reported (the target is on the worst: 2 s).

    .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import platform
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.baselines import generate_rules, write_rule_files  # noqa: E402

RUNS = 5
TARGET_SECONDS = 2.0
# Timed inside the fresh process: the interpreter's own start is the same for any service.
PROBE = """
import time
started = time.perf_counter()
from app import create_app
create_app({"DATABASE_URL": "sqlite:///%s", "RULES_DIR": "%s", "START_BACKGROUND": False,
            "DASHLY_WEBHOOK_TOKEN": "bench-token-0123456789", "LOG_LEVEL": "ERROR"})
print(time.perf_counter() - started)
"""


def fresh_start_seconds(rules: Path, database: Path) -> float:
    probe = PROBE % (database, rules)
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> int:
    print(
        f"start benchmark, {datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, "
        f"Python {platform.python_version()}; create_app() in a fresh process, {RUNS} runs"
    )
    missed = 0
    with tempfile.TemporaryDirectory() as temp:
        generated = Path(temp) / "10000"
        write_rule_files(generate_rules(10_000), generated)
        for name, folder in (("shipped rules", ROOT / "rules"), ("10,000 phrase rules", generated)):
            times = [fresh_start_seconds(folder, Path(temp) / "db.sqlite3") for _ in range(RUNS)]
            worst = max(times)
            met = worst <= TARGET_SECONDS
            missed += not met
            runs = ", ".join(f"{t:.2f}" for t in times)
            print(f"  {'ok  ' if met else 'MISS'} {name}: worst {worst:.2f} s ({runs})")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
