"""Where a webhook's CPU goes under load, per thread: the service under gunicorn as in
bench/service.py, wrk on the mix, and each worker thread's CPU time (user and kernel) and
context switches read from /proc before and after, per webhook.

    .venv/bin/python bench/threads.py            # this service, API answering at once
    BENCH_APP=bench.bare_app:app .venv/bin/python bench/threads.py   # the ceiling
    BENCH_DELAYS=2 BENCH_SECONDS=10 .venv/bin/python bench/threads.py

Threads are named by `py-spy dump` when py-spy is on the PATH (`pip install py-spy`; it is
not one of the project's dependencies), else by their id.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import service  # noqa: E402

Sample = dict[tuple[int, int], tuple[float, float, int]]  # (pid, tid) -> user, kernel, switches


def sample(pids: list[int]) -> Sample:
    """CPU seconds (user, kernel) and context switches of every thread of `pids`."""
    found: Sample = {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                status = (task / "status").read_text()
            except OSError:
                continue  # the thread ended meanwhile
            switches = sum(int(n) for n in re.findall(r"ctxt_switches:\s+(\d+)", status))
            user, kernel = int(fields[11]) / service.TICKS, int(fields[12]) / service.TICKS
            found[pid, int(task.name)] = (user, kernel, switches)
    return found


def thread_names(pids: list[int]) -> dict[int, str]:
    """Thread id -> Python thread name (numbered pool threads share one), through py-spy."""
    names: dict[int, str] = {}
    for pid in pids:
        try:
            dump = subprocess.run(
                ["py-spy", "dump", "-p", str(pid)], capture_output=True, text=True, timeout=30
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return names
        for tid, name in re.findall(r'Thread (\d+) \([^)]*\): "([^"]+)"', dump):
            names[int(tid)] = re.sub(r"_\d+$", "", name)
    return names


def run(app: str, api_delay: float, seconds: float, folder: Path) -> None:
    api_port, web_port = service.free_port(), service.free_port()
    api = service.start_api_standin(api_port, api_delay)
    env = service.service_env(web_port, api_port, folder, ROOT)
    server = service.start_gunicorn(ROOT, app, folder, env)
    try:
        workers = service.wait_for_service(server, api_port, web_port)[1:]
        before = sample(workers)
        outcome = service.run_wrk(web_port, seconds, folder / "bodies.txt")
        after = sample(workers)
        names = thread_names(workers) if shutil.which("py-spy") else {}
    finally:
        server.terminate()
        server.wait(60)
        api.kill()
        api.wait()
    requests = max(outcome["requests"], 1)
    totals: Counter[str] = Counter()
    kernel: Counter[str] = Counter()
    switches: Counter[str] = Counter()
    for (pid, tid), (user_after, kernel_after, switched_after) in after.items():
        user_before, kernel_before, switched_before = before.get((pid, tid), (0.0, 0.0, 0))
        name = names.get(tid) or ("gunicorn worker main" if pid == tid else f"thread {tid}")
        totals[name] += user_after - user_before + kernel_after - kernel_before
        kernel[name] += kernel_after - kernel_before
        switches[name] += switched_after - switched_before
    rate = outcome["requests"] / (outcome["duration_us"] / 1e6)
    print(f"{app}, API {api_delay:.0f} s: {rate:.0f} req/s, per webhook:")
    print(f"  {'thread':<24} {'CPU µs':>7} {'kernel µs':>9} {'switches':>8}")
    for name, seconds_used in totals.most_common():
        print(
            f"  {name:<24} {seconds_used / requests * 1e6:7.0f} "
            f"{kernel[name] / requests * 1e6:9.0f} {switches[name] / requests:8.1f}"
        )
    print(
        f"  {'all threads':<24} {sum(totals.values()) / requests * 1e6:7.0f} "
        f"{sum(kernel.values()) / requests * 1e6:9.0f} {sum(switches.values()) / requests:8.1f}"
    )


def main() -> None:
    app = os.environ.get("BENCH_APP", service.DESIGNS["ours"])
    seconds = float(os.environ.get("BENCH_SECONDS", "8"))
    for api_delay in (float(d) for d in os.environ.get("BENCH_DELAYS", "0").split(",")):
        with tempfile.TemporaryDirectory() as temp:
            run(app, api_delay, seconds, service.prepare(Path(temp)))


if __name__ == "__main__":
    main()
