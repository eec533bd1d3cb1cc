"""Dashly's Web API stand-in for benchmarks, in a process of its own.

    python -m bench.api_standin PORT DELAY_SECONDS

Answers every call after DELAY_SECONDS; GET /stats tells how many replies arrived and how many
distinct random_ids they carried (a duplicate delivery shows as the difference).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

LOCK = threading.Lock()
RANDOM_IDS: list[str] = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without this, every small answer waits ~40 ms for a delayed ACK, and the benchmark would
    # measure the stand-in instead of the service.
    disable_nagle_algorithm = True
    delay = 0.0

    def log_message(self, *args: object) -> None:
        pass

    def answer(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/stats":
            with LOCK:
                self.answer({"replies": len(RANDOM_IDS), "unique": len(set(RANDOM_IDS))})
            return
        time.sleep(self.delay)
        self.answer({"meta": {"status": 200}, "data": {"props": {"$name": "Anna"}}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        fields = parse_qs(self.rfile.read(length).decode())
        time.sleep(self.delay)
        if self.path.split("?", 1)[0].endswith("/reply"):
            with LOCK:
                RANDOM_IDS.append(fields.get("random_id", ["?"])[0])
        self.answer({"meta": {"status": 200}, "data": {}})


def main() -> None:
    port, delay = int(sys.argv[1]), float(sys.argv[2])
    Handler.delay = delay
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
