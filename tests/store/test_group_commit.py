"""Group commit on SQLite: writers that queue together share a commit, each in a savepoint of
its own; none returns before its work is committed, and one that fails takes only its own
work with it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from app.store import LeadOutcome, Store


class Refused(Exception):
    pass


def test_concurrent_writers_all_commit_and_a_failing_one_rolls_back_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    store = Store(url)
    store.migrate()
    start = threading.Barrier(8)
    returned: list[str] = []

    def writer(number: int) -> None:
        start.wait()
        for each in range(25):
            part = f"{number}-{each}"

            def decide(memory, part=part):
                if part == "3-7":
                    raise Refused  # this writer's work alone is rolled back
                return LeadOutcome("no_match")

            try:
                store.record_lead_message(part, f"c{number}", 1e9, decide, may_answer=False)
            except Refused:
                continue
            # Back from the store: the row must be committed, seen by another connection.
            with sqlite3.connect(tmp_path / "state.sqlite3") as other:
                found = other.execute(
                    "SELECT COUNT(*) FROM lead_messages WHERE part_id = ?", (part,)
                ).fetchone()[0]
            assert found == 1, part
            returned.append(part)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(returned) == 8 * 25 - 1
    with sqlite3.connect(tmp_path / "state.sqlite3") as other:
        parts = {row[0] for row in other.execute("SELECT part_id FROM lead_messages")}
    assert "3-7" not in parts and len(parts) == 8 * 25 - 1


def test_a_writer_that_fails_alone_rolls_back_and_the_store_works_on(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    store.migrate()
    with pytest.raises(Refused), store.transaction() as run:
        run("INSERT INTO shared_secrets (name, value) VALUES ('a', 'b')")
        raise Refused
    assert store._read("SELECT COUNT(*) FROM shared_secrets") == [(0,)]
    with store.transaction() as run:  # the store works on after a rolled-back writer
        run("INSERT INTO shared_secrets (name, value) VALUES ('a', 'b')")
    assert store._read("SELECT COUNT(*) FROM shared_secrets") == [(1,)]
