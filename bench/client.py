"""CPU per Dashly API call of the client delivery uses, against the bench's API stand-in.

    .venv/bin/python bench/client.py [REV ...]

Each REV (e.g. an earlier commit) is measured beside the working tree, in turn, in the same run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CALLS = 3000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))

MEASURE = """
import sys, time
from app.dashly.client import DashlyClient
client = DashlyClient(sys.argv[1], "bench-key", "default_admin")
for number in range(200):  # warm-up: connections opened, code paths loaded
    client.reply("5", "hello", number)
started = time.process_time()
for number in range(int(sys.argv[2])):
    client.reply("5", "hello", number)
print((time.process_time() - started) / int(sys.argv[2]) * 1e6)
"""


def measure(code: Path, api_url: str) -> float:
    output = subprocess.run(
        [sys.executable, "-c", MEASURE, api_url, str(CALLS)],
        env={**os.environ, "PYTHONPATH": str(code)},
        cwd=code,  # `python -c` puts the working directory first on the path
        capture_output=True,
        text=True,
        check=True,
    )
    return float(output.stdout)


def export(revision: str, folder: Path) -> Path:
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True).stdout
    target = folder / revision
    target.mkdir()
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.service import free_port, wait_until_up

    port = free_port()
    api = subprocess.Popen([sys.executable, "-m", "bench.api_standin", str(port), "0"], cwd=ROOT)
    try:
        wait_until_up(port, "/stats")
        with tempfile.TemporaryDirectory() as temp:
            designs = {"working tree": ROOT}
            designs.update({rev: export(rev, Path(temp)) for rev in sys.argv[1:]})
            results: dict[str, list[float]] = {name: [] for name in designs}
            for number in range(ROUNDS):
                # Every other round in reverse, so a drift in the machine's speed hits all alike.
                order = list(designs.items())
                for name, code in order if number % 2 == 0 else order[::-1]:
                    results[name].append(measure(code, f"http://127.0.0.1:{port}"))
        print(f"client CPU per reply call, {time.strftime('%Y-%m-%d')}, {CALLS} calls x {ROUNDS}")
        for name, values in results.items():
            each = ", ".join(f"{v:.0f}" for v in values)
            print(f"  {name:<14} median {statistics.median(values):.0f} µs  ({each})")
        mine = results["working tree"]
        for name, values in list(results.items())[1:]:
            # The two runs of one round are the closest in time: compare those.
            change = statistics.median(a / b for a, b in zip(mine, values, strict=True))
            print(f"  working tree against {name}: CPU per call {change - 1:+.0%} (median)")
    finally:
        api.kill()
        api.wait()


if __name__ == "__main__":
    main()
