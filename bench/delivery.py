"""Delivery throughput: 10,000 replies queued at once, then the service (gunicorn, 2 workers)
delivers them to the API stand-in answering at once and in 200 ms. Replies per second and the
server's CPU per reply (from /proc). Part of the full run (`make bench BENCH_FULL=1`).

    .venv/bin/python bench/delivery.py [COUNT]
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.actions import Reply  # noqa: E402
from app.handling import DELIVERY_WINDOW_SECONDS  # noqa: E402
from app.store import LeadOutcome, NewReply, Store  # noqa: E402
from bench.service import (  # noqa: E402
    WORKERS,
    api_stats,
    cpu_seconds,
    free_port,
    service_env,
    start_api_standin,
    start_gunicorn,
    wait_for_service,
)


def queue(store: Store, count: int) -> None:
    """`count` replies, each in a conversation of its own, queued as the webhook queues them."""
    now = time.time()
    for number in range(count):
        part = str(10**9 + number)
        reply = NewReply(part, part, "greeting", number + 1, (Reply(body="Hi!"),), now + 3600)
        outcome = LeadOutcome("replied", "greeting", reply=reply)
        store.record_lead_message(part, part, now, lambda memory, o=outcome: o)


def run(count: int, api_delay: float) -> tuple[float, float]:
    """(replies per second, server CPU µs per reply)."""
    api_port, web_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        shutil.copytree(ROOT / "rules", folder / "rules")
        database = folder / "bench.sqlite3"
        store = Store(f"sqlite:///{database}")
        store.migrate()
        queue(store, count)
        store.close()
        api = start_api_standin(api_port, api_delay)
        env = service_env(web_port, api_port, folder)
        server = start_gunicorn(ROOT, "app.wsgi:app", folder, env)
        try:
            pids = wait_for_service(server, api_port, web_port)
            # Counted once both workers are up (their start-up is not delivery's cost).
            started, cpu_before = time.perf_counter(), cpu_seconds(pids)
            delivered_before = api_stats(api_port)["replies"]
            while api_stats(api_port)["replies"] < count:
                if time.perf_counter() - started > DELIVERY_WINDOW_SECONDS:
                    raise RuntimeError("not every reply was delivered in time")
                time.sleep(0.1)
            seconds = time.perf_counter() - started
            cpu = cpu_seconds(pids) - cpu_before
            stats = api_stats(api_port)
            assert stats["unique"] == count, f"{stats['replies'] - stats['unique']} duplicates"
            measured = count - delivered_before
            return measured / seconds, cpu / measured * 1e6
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
            api.kill()
            api.wait()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(f"delivery benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {count:,} queued replies,")
    print(f"gunicorn with {WORKERS} workers, the requests-based client, every reply delivered once")
    for delay in (0.0, 0.2):
        rate, cpu = run(count, delay)
        speed = f"{rate:>6.0f} replies/s, {cpu:>5.0f} µs CPU per reply"
        print(f"  API answering in {delay * 1000:>3.0f} ms: {speed}")


if __name__ == "__main__":
    main()
