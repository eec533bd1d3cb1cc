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


def test_a_first_writer_failing_while_another_waits_takes_only_its_own_work(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    store.migrate()
    inside = threading.Event()
    failures: list[Exception] = []

    def second_writer() -> None:
        inside.wait(10)
        try:
            with store.transaction() as run:
                run("INSERT INTO shared_secrets (name, value) VALUES ('second', 'kept')")
        except Exception as error:  # reported by the assertion below
            failures.append(error)

    waiting = threading.Thread(target=second_writer)
    waiting.start()
    # The first writer of a batch runs without a savepoint: its failure ends the transaction.
    with pytest.raises(Refused), store.transaction() as run:
        run("INSERT INTO shared_secrets (name, value) VALUES ('first', 'undone')")
        inside.set()
        for _ in range(1000):  # until the second writer queues behind this one
            if store.backend._group._waiting:
                break
            threading.Event().wait(0.01)
        assert store.backend._group._waiting == 1
        raise Refused
    waiting.join(10)
    assert failures == []  # the second writer got a transaction of its own
    with sqlite3.connect(tmp_path / "state.sqlite3") as other:
        names = [row[0] for row in other.execute("SELECT name FROM shared_secrets")]
    assert names == ["second"]
