"""How large the state store grows per 10,000 webhooks of the live mix (bench/mix.py).

Sends the webhooks through the real app (Flask test client, dry run so replies are stored and
marked delivered) into a fresh SQLite file, and into PostgreSQL when TEST_DATABASE_URL is set.

    .venv/bin/python bench/storage.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app
from app.runtime import runtime_of
from bench.mix import webhook_forms

MESSAGES = 10_000
TOKEN = "bench-token"


def fill(database_url: str) -> float:
    app = create_app(
        {
            "DASHLY_WEBHOOK_TOKEN": TOKEN,
            "DASHLY_API_TOKEN": "",
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
        }
    )
    client = app.test_client()
    started = time.perf_counter()
    for form in webhook_forms(MESSAGES, TOKEN):
        assert client.post("/webhooks/dashly", data=form).status_code == 200
    runtime = runtime_of(app)
    while runtime.store.outbox(("pending", "sending")):
        time.sleep(0.1)
    runtime.stop_background(0)
    return time.perf_counter() - started


def sqlite_bytes(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def postgres_bytes(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as connection:
        return int(
            connection.execute(
                "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind = 'r'"
            ).fetchone()[0]
        )


def main() -> None:
    print(f"state store size after {MESSAGES:,} webhooks of the live mix")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        seconds = fill(f"sqlite:///{path}")
        print(f"  SQLite:     {sqlite_bytes(path) / 1e6:6.2f} MB  ({seconds:.1f} s to send)")
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        import psycopg

        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("DROP SCHEMA public CASCADE")
            connection.execute("CREATE SCHEMA public")
        seconds = fill(url)
        print(f"  PostgreSQL: {postgres_bytes(url) / 1e6:6.2f} MB  ({seconds:.1f} s to send)")


if __name__ == "__main__":
    main()
