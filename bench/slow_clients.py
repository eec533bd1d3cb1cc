"""Webhooks while clients that send part of a request and stop hold connections (docs/security.md,
third pass). The service runs as bench/service.py runs it (gunicorn.conf.py, 2 workers, the
Dashly API stand-in on loopback); HOLDERS connections each send the headers and part of a body
and then nothing, and each one cut is replaced at once (the worst case: the holders never let
go). Meanwhile one client posts WEBHOOKS webhooks one after another, each on a new connection
(so they land on either worker) with a 10 s limit, and the table gives how many were answered
and how long they took.

    .venv/bin/python bench/slow_clients.py              this tree
    BENCH_BEFORE=REV .venv/bin/python bench/slow_clients.py   and the project at REV, same run

Settings: HOLDERS ("4,8"), WEBHOOKS (40).
"""

from __future__ import annotations

import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.service import (  # noqa: E402
    TOKEN,
    export_revision,
    free_port,
    prepare,
    service_env,
    start_api_standin,
    start_gunicorn,
    wait_for_service,
)

WEBHOOKS = int(os.environ.get("WEBHOOKS", "40"))
STALLED_REQUEST = (
    b"POST /webhooks/dashly HTTP/1.1\r\nHost: bench\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ntoken="
)


class Holders:
    """`count` connections that each send part of a request and stop; one the server closes is
    replaced by a new one."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.cut = 0  # connections the server closed or answered
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.hold, daemon=True) for _ in range(count)]

    def hold(self) -> None:
        while not self.stopping.is_set():
            with socket.create_connection(("127.0.0.1", self.port)) as connection:
                connection.sendall(STALLED_REQUEST)
                connection.settimeout(0.5)
                while not self.stopping.is_set():
                    try:
                        if connection.recv(4096) == b"":
                            break
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                else:
                    return
                self.cut += 1

    def __enter__(self) -> Holders:
        for thread in self.threads:
            thread.start()
        time.sleep(0.5)  # every holder has its connection taken by a request thread
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(5)


def webhook_times(port: int) -> tuple[int, list[float]]:
    """How many of WEBHOOKS webhooks were answered 200, and each one's seconds (10 for none)."""
    answered, seconds = 0, []
    for _ in range(WEBHOOKS):
        form = {"token": TOKEN, "data": "{}"}  # a valid token: answered without a reply
        started = time.monotonic()
        try:
            response = requests.post(
                f"http://127.0.0.1:{port}/webhooks/dashly",
                data=form,
                timeout=10,
                headers={"Connection": "close"},
            )
            answered += response.status_code < 500
        except requests.RequestException:
            pass
        seconds.append(time.monotonic() - started)
    return answered, seconds


def run(code: Path, folder: Path, holders: int) -> str:
    web_port, api_port = free_port(), free_port()
    api = start_api_standin(api_port, 0.0)
    env = service_env(web_port, api_port, folder, None if code == ROOT else code)
    server = start_gunicorn(code, "app.wsgi:app", folder, env)
    try:
        wait_for_service(server, api_port, web_port)
        with Holders(web_port, holders) as holding:
            answered, seconds = webhook_times(web_port)
        median, slowest = statistics.median(seconds) * 1000, max(seconds) * 1000
        return (
            f"{answered:>3}/{WEBHOOKS} answered, median {median:7.1f} ms,"
            f" slowest {slowest:7.1f} ms, holders cut {holding.cut}"
        )
    finally:
        server.terminate()
        server.wait(60)
        api.kill()
        api.wait()


def main() -> None:
    counts = [int(n) for n in os.environ.get("HOLDERS", "4,8").split(",")]
    print(f"# {datetime.now():%Y-%m-%d %H:%M}, {platform.node()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as scratch:
        designs = {"this tree": ROOT}
        if revision := os.environ.get("BENCH_BEFORE"):
            designs[f"at {revision}"] = export_revision(revision, Path(scratch))
        for holders in counts:
            for name, code in designs.items():
                folder = Path(scratch) / f"{name.replace(' ', '-')}-{holders}"
                folder.mkdir()
                prepare(folder)
                print(f"{holders} holders, {name:>14}: {run(code, folder, holders)}", flush=True)


if __name__ == "__main__":
    main()
