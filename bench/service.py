"""The webhook under gunicorn on loopback, on the live mix (bench/mix.py), side by side with the
ceiling of the stack (a bare Flask endpoint) and the help page's design, each with a Dashly API
stand-in (its own process) answering at once and in 2 seconds.

    make bench            (or: .venv/bin/python bench/service.py)
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.handling import DELIVERY_WINDOW_SECONDS  # noqa: E402
from bench.mix import webhook_forms  # noqa: E402

TOKEN = "bench-webhook-token"
WORKERS = 2
CLIENT_PROCESSES = 2
THREADS_PER_PROCESS = 4
SECONDS = 8.0
MAX_REQUESTS = 100_000
DESIGNS = {
    "ours": "app:create_app()",
    "bare Flask": "bench.bare_app:app",
    "help page": "bench.helppage_app:app",
}


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    replied: int
    delivered: int
    calls: int
    unique: int
    drain_seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def duplicates(self) -> int:
        """Reply calls that repeated a random_id the API had already received."""
        return self.calls - self.unique

    @property
    def delivered_once(self) -> bool:
        return self.unique == self.replied and self.duplicates == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(port: int, path: str = "/healthz", timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


def wait_for_workers(master: int, count: int, timeout: float = 30.0) -> None:
    """Wait until gunicorn has forked all its workers, then a second more for their start-up
    hook. The first worker up answers the health check; load sent then opens every keep-alive
    connection on that worker, where they stay for the whole run while the other one idles:
    such runs came out at about half speed, for any design."""
    deadline = time.monotonic() + timeout
    while len(children(master)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not start {count} workers")
        time.sleep(0.05)
    time.sleep(1.0)


def children(pid: int) -> list[int]:
    """The ids of a process's children (Linux: from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # the process ended meanwhile
                continue
            # The fields after the command name (which may hold spaces): state, then ppid.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def api_stats(port: int) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/stats")
    return json.loads(connection.getresponse().read())


def client(process: int, port: int, limit: int, seconds: float, results: multiprocessing.Queue):
    """Closed-loop load: each thread keeps one connection and sends the next webhook when the
    previous one is answered."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = [0]
    lock = threading.Lock()
    per_thread = limit // (CLIENT_PROCESSES * THREADS_PER_PROCESS)

    def run(thread: int) -> None:
        first = 10**9 + (process * THREADS_PER_PROCESS + thread) * 10**7
        forms = webhook_forms(per_thread, TOKEN, seed=first, first_id=first)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        stop_at = time.monotonic() + seconds
        for form in forms:
            if time.monotonic() >= stop_at:
                break
            body = urlencode(form)
            started = time.perf_counter()
            try:
                connection.request(
                    "POST",
                    "/webhooks/dashly",
                    body,
                    {"Content-Type": "application/x-www-form-urlencoded"},
                )
                response = connection.getresponse()
                payload = response.read()
                ok = response.status == 200
            except OSError:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok, payload = False, b""
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if not ok:
                    errors[0] += 1
                elif payload.startswith(b"{"):
                    status = json.loads(payload).get("status", "?")
                    statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS_PER_PROCESS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((latencies, statuses, errors[0]))


def export_revision(revision: str, folder: Path) -> Path:
    """The project's code at `revision`, to serve as another design in the same run."""
    target = folder / "code"
    target.mkdir()
    archive = subprocess.run(
        ["git", "archive", revision], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def run_design(design: str, api_delay: float, folder: Path) -> Result:
    api_port, web_port = free_port(), free_port()
    # "before REV": this service as it was at REV (BENCH_BEFORE), e.g. to price a feature.
    code = export_revision(design.split()[1], folder) if design.startswith("before ") else ROOT
    api = subprocess.Popen(
        [sys.executable, "-m", "bench.api_standin", str(api_port), str(api_delay)], cwd=ROOT
    )
    env = {
        **os.environ,
        "PORT": str(web_port),
        "WEB_CONCURRENCY": str(WORKERS),
        "DASHLY_WEBHOOK_TOKEN": TOKEN,
        "DASHLY_API_TOKEN": os.environ.get("BENCH_API_TOKEN", "bench-api-key"),
        "DASHLY_API_URL": f"http://127.0.0.1:{api_port}",
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "RULES_DIR": str(folder / "rules"),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(code),
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            str(code / "gunicorn.conf.py"),
            DESIGNS.get(design, "app:create_app()"),
        ],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(api_port, "/stats")
        wait_until_up(web_port)
        wait_for_workers(server.pid, WORKERS)
        queue: multiprocessing.Queue = multiprocessing.Queue()
        limit = MAX_REQUESTS
        processes = [
            multiprocessing.Process(target=client, args=(p, web_port, limit, SECONDS, queue))
            for p in range(CLIENT_PROCESSES)
        ]
        started = time.perf_counter()
        for process in processes:
            process.start()
        gathered = [queue.get() for _ in processes]
        seconds = time.perf_counter() - started
        for process in processes:
            process.join()
        delivered_during_load = api_stats(api_port)["replies"]
        latencies = sorted(x for lat, _, _ in gathered for x in lat)
        replied = sum(s.get("replied", 0) for _, s, _ in gathered)
        errors = sum(e for _, _, e in gathered)
        drain_started = time.perf_counter()
        # Wait for every queued reply, as long as the service keeps trying one (with a 2 s API
        # and 16 calls in flight, the replies queued in 8 s take about 5 minutes).
        if design == "ours" or design.startswith("before "):
            while (
                api_stats(api_port)["replies"] < replied
                and time.perf_counter() - drain_started < DELIVERY_WINDOW_SECONDS
            ):
                time.sleep(0.2)
            time.sleep(1.0)  # a duplicate would show up now
        stats = api_stats(api_port)
        return Result(
            requests=len(latencies),
            seconds=seconds,
            p50_ms=statistics.median(latencies) * 1000,
            p99_ms=latencies[int(len(latencies) * 0.99) - 1] * 1000,
            errors=errors,
            replied=replied if design == "ours" else stats["replies"],
            delivered=delivered_during_load,
            calls=stats["replies"],
            unique=stats["unique"],
            drain_seconds=time.perf_counter() - drain_started if design == "ours" else 0.0,
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        api.kill()
        api.wait()


def delivered_count(result: Result) -> str:
    if result.unique == result.replied:
        return f"all {result.unique}"
    return f"only {result.unique} of {result.replied}"


def round_ratios(mine: list[Result], other: list[Result]) -> list[float]:
    """One design's throughput over another's in each round. The two ran one after the other,
    so their ratio is the least touched by the machine's drift; the checks take the median."""
    return [a.rate / b.rate for a, b in zip(mine, other, strict=True)]


def main() -> None:
    print(
        f"service benchmark, {time.strftime('%Y-%m-%d')}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; "
        f"gunicorn.conf.py with {WORKERS} workers; "
        f"load: {CLIENT_PROCESSES * THREADS_PER_PROCESS} connections, closed loop, "
        f"up to {SECONDS:.0f} s; mix: 4 operator/system, 4 unanswered, 2 answered in 10"
    )
    print(
        f"{'design':<11} {'API':>4} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>8} {'errors':>6} "
        f"{'replies':>7} {'sent/s':>7} {'dupes':>5}"
    )
    table: dict[tuple[str, float], Result] = {}
    every_run: dict[tuple[str, float], list[Result]] = {}
    # BENCH_ONLY="ours,bare Flask" and BENCH_DELAYS="0" run a subset while working on one.
    designs = os.environ.get("BENCH_ONLY", ",".join(DESIGNS)).split(",")
    if os.environ.get("BENCH_BEFORE"):
        designs.insert(1, f"before {os.environ['BENCH_BEFORE']}")
    delays = [float(d) for d in os.environ.get("BENCH_DELAYS", "0,2").split(",")]
    # BENCH_ROUNDS=4 runs the designs in turn four times and keeps each one's median run: on a
    # virtual machine whose speed drifts, that compares like with like.
    rounds = int(os.environ.get("BENCH_ROUNDS", "1"))
    for api_delay in delays:
        runs: dict[str, list[Result]] = {design: [] for design in designs}
        for number in range(rounds):
            # Every other round in reverse (A B, B A, ...), so a drift in speed hits all alike.
            for design in designs if number % 2 == 0 else designs[::-1]:
                with tempfile.TemporaryDirectory() as temp:
                    folder = Path(temp)
                    shutil.copytree(ROOT / "rules", folder / "rules")
                    # The mix's unanswered messages must stay unanswered: no fallback rules.
                    (folder / "rules" / "90-fallback.toml").unlink()
                    runs[design].append(run_design(design, api_delay, folder))
        for design in designs:
            every_run[design, api_delay] = runs[design]
            ordered = sorted(runs[design], key=lambda r: r.rate)
            result = ordered[len(ordered) // 2]
            table[design, api_delay] = result
            print(
                f"{design:<11} {api_delay:>3.0f}s {result.rate:>7.0f} "
                f"{result.p50_ms:>7.1f} {result.p99_ms:>8.1f} {result.errors:>6} "
                f"{result.replied:>7} {result.delivered / result.seconds:>7.1f} "
                f"{result.duplicates if design == 'ours' else '-':>5}"
                + (
                    f"   ({delivered_count(result)} delivered {result.drain_seconds:.0f} s "
                    "after the load)"
                    if design == "ours" and api_delay
                    else ""
                )
            )
    for design, api_delay in table:
        if design.startswith("before "):
            ratios = round_ratios(every_run["ours", api_delay], every_run[design, api_delay])
            change = statistics.median(ratios) - 1
            print(f"  ours against {design}, API {api_delay:.0f} s: throughput {change:+.0%}")
    if len(table) < len(DESIGNS) * 2:
        return
    ours, slow = table["ours", 0.0], table["ours", 2.0]
    shares = round_ratios(every_run["ours", 0.0], every_run["bare Flask", 0.0])
    share = statistics.median(shares)
    each = ", ".join(f"{ratio:.0%}" for ratio in shares)
    p99_change = abs(slow.p99_ms - ours.p99_ms) / ours.p99_ms
    checks = [
        (
            f"throughput {share:.1%} of bare Flask (>= 50%; the median of the rounds' {each})",
            share >= 0.5,
        ),
        (f"2 s API changes p99 by {p99_change:.0%} (< 50%)", p99_change < 0.5),
        ("no errors", all(r.errors == 0 for (d, _), r in table.items() if d == "ours")),
        (
            "every reply delivered once, in every run",
            all(
                r.delivered_once for (d, _), runs in every_run.items() if d == "ours" for r in runs
            ),
        ),
    ]
    for text, ok in checks:
        print(f"  {'ok  ' if ok else 'MISS'} {text}")


if __name__ == "__main__":
    main()
