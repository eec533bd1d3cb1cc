"""The webhook under gunicorn on loopback, driven by `wrk`, on the live mix (bench/mix.py), side
by side with the ceiling of the stack (a bare Flask endpoint) and the help page's design, with a
Dashly API stand-in (its own process) answering at once and in 2 seconds.

    make bench                  one quick round (about 2 minutes)
    make bench BENCH_FULL=1     three rounds, longer loads, every reply waited for

Beside req/s and latency it reports the server's CPU time per webhook, read from /proc for the
gunicorn master and its workers: a figure no load generator can skew. Exits 1 when a target of
the design (docs/performance.md) is missed.

Columns: `least` is the share of the requests served by the worker that served the fewest
(50% is an even split: a worker that keeps every keep-alive connection shows as 0%).

Settings: BENCH_FULL, BENCH_ROUNDS, BENCH_SECONDS, BENCH_ONLY ("ours,bare Flask"), BENCH_DELAYS
("0,2"), BENCH_CONNECTIONS (12), BENCH_SETTLE (seconds between the workers' start and the
load: 0, as a router's connections come after a boot), BENCH_BEFORE=REV (the project at REV as
one more design, to price a change).
BENCH_ONLY may also name "ours in memory": this service with its SQLite file in /dev/shm, where
a commit's fsync costs nothing. It is not a way to deploy (a 200 would not survive a power
loss); it measures what the durable commit costs against all the rest.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.handling import DELIVERY_WINDOW_SECONDS  # noqa: E402
from bench.mix import form_templates  # noqa: E402

TOKEN = "bench-webhook-token"
WORKERS = 2
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "12"))
DESIGNS = {
    "ours": "app.wsgi:app",
    "bare Flask": "bench.bare_app:app",
    "help page": "bench.helppage_app:app",
}
# Not one of the designs run by default: see the docstring.
IN_MEMORY = "ours in memory"
TICKS = os.sysconf("SC_CLK_TCK")


def is_ours(design: str) -> bool:
    """This service, in any of its forms (it queues replies; the others answer inline)."""
    return design in ("ours", IN_MEMORY) or design.startswith("before ")


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_seconds: float  # the server's CPU (master and workers) while the load ran
    replied: int  # replies queued (ours) or sent inline (help page)
    calls: int  # reply calls the stand-in received
    unique: int  # distinct random_ids among them
    drained: bool  # every queued reply was waited for
    served: tuple[int, ...] = ()  # the requests each worker served

    @property
    def smallest_share(self) -> float:
        """The share of the requests served by the worker that served the fewest."""
        return min(self.served) / max(sum(self.served), 1) if self.served else float("nan")

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_seconds / max(self.requests, 1) * 1e6

    @property
    def duplicates(self) -> int:
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


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def wait_for_workers(master: int, count: int, timeout: float = 30.0) -> list[int]:
    """Wait until gunicorn has forked all its workers; with BENCH_SETTLE (seconds), that much
    more. The load then starts as a platform's router does after a boot or a restart: as soon
    as the service answers, its connections kept alive, whichever worker took them."""
    deadline = time.monotonic() + timeout
    while len(children(master)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not start {count} workers")
        time.sleep(0.05)
    time.sleep(float(os.environ.get("BENCH_SETTLE", "0")))
    return children(master)


def start_api_standin(port: int, delay: float) -> subprocess.Popen:
    """The Dashly API stand-in on `port`, answering after `delay` seconds."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.api_standin", str(port), str(delay)], cwd=ROOT
    )


def service_env(web_port: int, api_port: int, folder: Path, code: Path | None = None) -> dict:
    """The environment the service runs with in a bench: its database and rules in `folder`,
    the stand-in as Dashly's API, the code at `code` (else whatever PYTHONPATH says)."""
    env = {
        **os.environ,
        "PORT": str(web_port),
        "WEB_CONCURRENCY": str(WORKERS),
        "DASHLY_WEBHOOK_TOKEN": TOKEN,
        "DASHLY_API_TOKEN": os.environ.get("BENCH_API_TOKEN", "bench-api-key-0123456789"),
        "DASHLY_API_URL": f"http://127.0.0.1:{api_port}",
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "RULES_DIR": str(folder / "rules"),
        "LOG_LEVEL": "WARNING",
    }
    if code is not None:
        # An older revision may import a package the lock has since dropped: one installed
        # aside (pip install --target DIR) can be put on PYTHONPATH after the code.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), os.environ.get("PYTHONPATH")]))
    return env


def start_gunicorn(code: Path, app: str, folder: Path, env: dict) -> subprocess.Popen:
    """gunicorn with the project's configuration at `code`, serving `app` from `folder`, each
    worker counting the requests it served (folder/served/PID, written at its exit)."""
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    (folder / "served").mkdir(exist_ok=True)
    counting = {
        "BENCH_GUNICORN_CONF": str(code / "gunicorn.conf.py"),
        "BENCH_COUNTS": str(folder / "served"),
    }
    return subprocess.Popen(
        [gunicorn, "-c", str(ROOT / "bench" / "counting_gunicorn.py"), app],
        cwd=folder,
        env={**env, **counting},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_service(server: subprocess.Popen, api_port: int, web_port: int) -> list[int]:
    """Wait for the stand-in and every gunicorn worker; the master's and workers' ids."""
    wait_until_up(api_port, "/stats")
    wait_until_up(web_port)
    return [server.pid, *wait_for_workers(server.pid, WORKERS, timeout=60)]


def api_stats(port: int) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/stats")
    return json.loads(connection.getresponse().read())


def run_wrk(port: int, seconds: float, bodies: Path) -> dict[str, int]:
    """One wrk thread (it costs little CPU) keeping CONNECTIONS connections busy."""
    output = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{seconds:.0f}s",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "bench" / "wrk_mix.lua"),
            f"http://127.0.0.1:{port}",
            "--",
            str(bodies),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"^RESULT (.*)$", output, re.M)
    if found is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", found.group(1))}


def export_revision(revision: str, folder: Path) -> Path:
    """The project's code at `revision`, to serve as another design in the same run."""
    target = folder / "code"
    target.mkdir()
    archive = subprocess.run(
        ["git", "archive", revision], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def queued_replies(database: Path) -> int:
    if not database.exists():
        return 0
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]


def run_design(design: str, api_delay: float, folder: Path, seconds: float, drain: bool) -> Result:
    api_port, web_port = free_port(), free_port()
    ours = is_ours(design)
    # "before REV": this service as it was at REV (BENCH_BEFORE), e.g. to price a feature.
    code = export_revision(design.split()[1], folder) if design.startswith("before ") else ROOT
    if code is not ROOT:  # that revision's own rules: newer rule keys would not load there
        shutil.rmtree(folder / "rules")
        shutil.copytree(code / "rules", folder / "rules")
        (folder / "rules" / "90-fallback.toml").unlink()
    api = start_api_standin(api_port, api_delay)
    database = folder / "bench.sqlite3"
    env = service_env(web_port, api_port, folder, code)
    app = DESIGNS["ours"] if design == IN_MEMORY else DESIGNS.get(design, "app:create_app()")
    server = start_gunicorn(code, app, folder, env)
    try:
        pids = wait_for_service(server, api_port, web_port)
        cpu_before = cpu_seconds(pids)
        outcome = run_wrk(web_port, seconds, folder / "bodies.txt")
        cpu = cpu_seconds(pids) - cpu_before
        drained = not ours or wait_for_delivery(api_port, database, drain)
        replied = queued_replies(database) if ours else 0
        stats = api_stats(api_port)
        return Result(
            requests=outcome["requests"],
            seconds=outcome["duration_us"] / 1e6,
            p50_ms=outcome["p50_us"] / 1000,
            p99_ms=outcome["p99_us"] / 1000,
            errors=outcome["bad_status"] + outcome["socket_errors"],
            cpu_seconds=cpu,
            replied=replied if ours else stats["replies"],
            calls=stats["replies"],
            unique=stats["unique"],
            drained=drained,
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        api.kill()
        api.wait()


def served_by_worker(folder: Path) -> tuple[int, ...]:
    """The requests each worker served in the run just stopped (the /healthz polls of its
    start included: a handful)."""
    return tuple(int(f.read_text()) for f in sorted((folder / "served").iterdir()))


def wait_for_delivery(api_port: int, database: Path, drain: bool) -> bool:
    """Wait for every queued reply (as long as the service keeps trying one when `drain`, a few
    seconds otherwise); True when all arrived. The webhooks in flight when wrk stopped are
    recorded meanwhile, so the queue is counted again each time."""
    limit = DELIVERY_WINDOW_SECONDS if drain else 5.0
    started = time.monotonic()
    time.sleep(0.5)
    while (
        api_stats(api_port)["replies"] < queued_replies(database)
        and time.monotonic() - started < limit
    ):
        time.sleep(0.2)
    time.sleep(1.0)  # a duplicate would show up now
    return api_stats(api_port)["replies"] >= queued_replies(database)


def print_row(design: str, api_delay: float, result: Result) -> None:
    ours = is_ours(design)
    delivered = f"{result.unique}/{result.replied}" if ours and result.drained else "not waited for"
    print(
        f"{design:<14} {api_delay:>3.0f}s {result.rate:>7.0f} {result.p50_ms:>7.1f} "
        f"{result.p99_ms:>8.1f} {result.errors:>6} {result.cpu_us_per_request:>8.0f} "
        f"{result.replied:>7} {result.duplicates if ours else '-':>5} "
        f"{result.smallest_share:>6.0%}  {delivered if ours else '-'}",
        flush=True,
    )


def ratios(mine: list[Result], other: list[Result]) -> list[float]:
    """One design's throughput over another's in each round: the two ran one after the other,
    so their ratio is the least touched by the machine's drift."""
    return [a.rate / b.rate for a, b in zip(mine, other, strict=True)]


def median_run(runs: list[Result]) -> Result:
    return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]


def checks(runs: dict[tuple[str, float], list[Result]], delays: list[float]) -> list[tuple]:
    """The design's targets, each (text, met)."""
    found = []
    for delay in delays:
        if ("ours", delay) not in runs:
            continue
        ours = runs["ours", delay]
        if ("bare Flask", delay) in runs:
            bare = runs["bare Flask", delay]
            share = statistics.median(ratios(ours, bare))
            found.append(
                (f"API {delay:.0f} s: {share:.0%} of bare Flask's req/s (>= 50%)", share >= 0.5)
            )
            p99 = median_run(ours).p99_ms / median_run(bare).p99_ms
            found.append((f"API {delay:.0f} s: p99 {p99:.1f}x bare Flask's (<= 5x)", p99 <= 5))
            worst, best = min(ratios(ours, bare)), max(ratios(ours, bare))
            found.append(
                (
                    f"API {delay:.0f} s: worst run {worst:.0%} of bare Flask (>= 33%), "
                    f"{worst / best:.2f}x the best run's (>= 0.9)",
                    worst >= 0.33 and worst >= 0.9 * best,
                )
            )
        least = min(r.smallest_share for r in ours)
        found.append(
            (
                f"API {delay:.0f} s: each worker served >= 40% in every run ({least:.0%})",
                least >= 0.4,
            )
        )
        if ("help page", delay) in runs:
            beat = statistics.median(ratios(ours, runs["help page", delay]))
            found.append((f"API {delay:.0f} s: {beat:.2f}x the help page's req/s (> 1)", beat > 1))
        found.append((f"API {delay:.0f} s: no errors", all(r.errors == 0 for r in ours)))
        waited = [r for r in ours if r.drained]
        found.append(
            (
                f"API {delay:.0f} s: every reply waited for delivered once "
                f"({len(waited)} of {len(ours)} runs waited for)",
                all(r.delivered_once for r in waited) and (delay > 0 or len(waited) == len(ours)),
            )
        )
    return found


def main() -> int:
    if shutil.which("wrk") is None:
        print("bench/service.py needs wrk: apt-get install wrk (make bench installs it)")
        return 1
    full = os.environ.get("BENCH_FULL", "") not in ("", "0")
    rounds = int(os.environ.get("BENCH_ROUNDS", "3" if full else "1"))
    seconds = float(os.environ.get("BENCH_SECONDS", "10" if full else "5"))
    designs = os.environ.get("BENCH_ONLY", ",".join(DESIGNS)).split(",")
    if os.environ.get("BENCH_BEFORE"):
        designs.insert(1, f"before {os.environ['BENCH_BEFORE']}")
    delays = [float(d) for d in os.environ.get("BENCH_DELAYS", "0,2").split(",")]
    print(
        f"service benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; gunicorn.conf.py with "
        f"{WORKERS} workers; wrk: 1 thread, {CONNECTIONS} connections, {seconds:.0f} s; "
        f"{rounds} round(s); mix: 4 operator/system, 4 unanswered, 2 answered in 10"
    )
    print(
        f"{'design':<14} {'API':>4} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>8} {'errors':>6} "
        f"{'CPU µs/req':>8} {'replies':>7} {'dupes':>5} {'least':>6}  delivered"
    )
    runs: dict[tuple[str, float], list[Result]] = {}
    for api_delay in delays:
        for number in range(rounds):
            # Every other round in reverse (A B, B A, ...), so a drift in speed hits all alike.
            for design in designs if number % 2 == 0 else designs[::-1]:
                in_memory = "/dev/shm" if design == IN_MEMORY else None
                with tempfile.TemporaryDirectory(dir=in_memory) as temp:
                    folder = prepare(Path(temp))
                    drain = full or api_delay == 0
                    result = run_design(design, api_delay, folder, seconds, drain)
                    result = replace(result, served=served_by_worker(folder))
                    runs.setdefault((design, api_delay), []).append(result)
                    print_row(design, api_delay, result)
    if rounds > 1:
        print("median runs:")
        for (design, api_delay), results in runs.items():
            print_row(design, api_delay, median_run(results))
        print("worst runs (the fewest req/s):")
        for (design, api_delay), results in runs.items():
            print_row(design, api_delay, min(results, key=lambda r: r.rate))
    for design, api_delay in runs:
        if is_ours(design) and design != "ours":
            change = statistics.median(ratios(runs["ours", api_delay], runs[design, api_delay]))
            print(f"  ours against {design}, API {api_delay:.0f} s: req/s {change - 1:+.0%}")
    missed = 0
    for text, met in checks(runs, delays):
        print(f"  {'ok  ' if met else 'MISS'} {text}")
        missed += not met
    return 1 if missed else 0


def prepare(folder: Path) -> Path:
    """The rules (without fallbacks: the mix's unanswered messages must stay unanswered) and
    the request bodies wrk sends."""
    shutil.copytree(ROOT / "rules", folder / "rules")
    (folder / "rules" / "90-fallback.toml").unlink()
    bodies = [body for body, _ in form_templates(1000, TOKEN)]
    (folder / "bodies.txt").write_text("\n".join(bodies) + "\n", encoding="utf-8")
    return folder


if __name__ == "__main__":
    sys.exit(main())
