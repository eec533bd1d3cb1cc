"""Group commit on SQLite: writers that queue together share a commit, each in a savepoint of
its own; none returns before its work is committed, and one that fails takes only its own
work with it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from app.store import LeadOutcome, Store, StoreUnavailable


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


def test_a_duplicate_seen_in_a_batch_whose_commit_fails_is_not_acknowledged(
    tmp_path: Path,
) -> None:
    """Two copies of one part in one batch: the second reads the first's uncommitted row and
    would answer "duplicate". When the batch's COMMIT then fails (here a deferred foreign key,
    as a full disk would), the second must fail too (503: Dashly sends it again), not return."""
    store = Store(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    store.migrate()
    with store.transaction() as run:
        run("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        run(
            "CREATE TABLE child (parent INTEGER REFERENCES parent (id) "
            "DEFERRABLE INITIALLY DEFERRED)"
        )
    store.backend._shared().execute("PRAGMA foreign_keys=ON")
    group = store.backend._group
    first_inside, second_deciding = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def until_one_waits() -> None:
        for _ in range(1000):
            if group._waiting:
                return
            threading.Event().wait(0.01)

    def second_copy() -> None:
        first_inside.wait(10)

        def decide(memory):
            second_deciding.set()
            until_one_waits()  # a third writer queues: this one is not the batch's last
            return LeadOutcome("no_match")

        try:
            outcomes["second"] = store.record_lead_message("P", "c1", 1e9, decide)
        except Exception as error:
            outcomes["second"] = error

    def third_writer() -> None:
        second_deciding.wait(10)
        try:
            with store.transaction() as run:
                run("INSERT INTO shared_secrets (name, value) VALUES ('third', 'x')")
        except Exception as error:
            outcomes["third"] = error

    threads = [threading.Thread(target=second_copy), threading.Thread(target=third_writer)]
    for thread in threads:
        thread.start()
    with pytest.raises(StoreUnavailable), store.transaction() as run:
        run(
            "INSERT INTO lead_messages (part_id, conversation, received_at, status) "
            "VALUES ('P', 'c1', 1e9, 'no_match')"
        )
        run("INSERT INTO child (parent) VALUES (42)")  # the COMMIT will refuse this
        first_inside.set()
        until_one_waits()
    for thread in threads:
        thread.join(10)
    assert isinstance(outcomes["second"], StoreUnavailable), outcomes["second"]
    assert isinstance(outcomes["third"], StoreUnavailable)
    assert store._read("SELECT COUNT(*) FROM lead_messages") == [(0,)]
