"""The state store on SQLite and on a real PostgreSQL server: the same tests for both."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from app.actions import Event, Props, Reply
from app.store import (
    ConversationMemory,
    FailureKind,
    Finished,
    LeadOutcome,
    NewReply,
    Store,
    StoreUnavailable,
)
from app.store.schema import MIGRATIONS
from app.text import echo_key
from tests.helpers import postgres_url


def reply_for(part_id: str, conversation: str = "100", rule_id: str = "greeting") -> NewReply:
    return NewReply(
        part_id=part_id,
        conversation=conversation,
        rule_id=rule_id,
        random_id=12345,
        actions=(Reply(body="Hi"),),
        deadline=1_000_900.0,
    )


def queued(reply: NewReply) -> LeadOutcome:
    return LeadOutcome("replied", reply.rule_id, reply=reply)


NOTHING = LeadOutcome("no_match", text="something")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.migrate()
    yield store
    store.close()  # its pool's connections: a 20-connection server runs out otherwise


def test_migrate_is_idempotent_and_safe_when_run_together(database_url: str) -> None:
    def migrate() -> None:
        store = Store(database_url)
        store.migrate()
        store.close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: migrate(), range(4)))
    migrate()
    store = Store(database_url)
    try:
        # Each migration ran exactly once, whoever got there first.
        versions = store._read("SELECT version FROM schema_version ORDER BY version")
        assert [version for (version,) in versions] == list(range(1, len(MIGRATIONS) + 1))
    finally:
        store.close()
    checked = Store(database_url)
    checked.ping()
    checked.close()


def test_a_part_is_recorded_once_and_its_reply_queued(store: Store) -> None:
    seen: list[ConversationMemory] = []

    def decide(memory: ConversationMemory) -> LeadOutcome:
        seen.append(memory)
        return queued(reply_for("1"))

    assert store.record_lead_message("1", "100", 1_000_000.0, decide) == queued(reply_for("1"))
    # The repeat is recognised when its outcome is recorded; all it did is rolled back.
    assert store.record_lead_message("1", "100", 1_000_001.0, decide) is None
    assert seen[0] == ConversationMemory()
    assert store.memory("100").answered_rules == frozenset({"greeting"})
    assert sum(count for *_, count in store.outcome_counts(0)) == 1
    [item] = store.outbox()
    assert (item.part_id, item.status, item.random_id, item.actions) == (
        "1",
        "pending",
        12345,
        (Reply(body="Hi"),),
    )


def test_a_message_no_rule_can_answer_reads_the_silence_and_creates_no_conversation(
    store: Store,
) -> None:
    seen: list[ConversationMemory] = []

    def decide(memory: ConversationMemory) -> LeadOutcome:
        seen.append(memory)
        return NOTHING

    store.record_operator_message("o1", "300", 1_000_000.0)
    assert store.record_lead_message("2", "300", 1_000_010.0, decide, may_answer=False)
    assert store.record_lead_message("3", "301", 1_000_010.0, decide, may_answer=False)
    assert store.record_lead_message("3", "301", 1_000_011.0, decide, may_answer=False) is None
    assert seen[:2] == [ConversationMemory(operator_at=1_000_000.0), ConversationMemory()]
    assert store._read("SELECT conversation FROM conversations") == [("300",)]
    assert store.outcome_counts(0) == [("no_match", None, False, 2)]


def test_a_kept_text_keeps_the_conversations_tags_and_whether_it_came_first(
    store: Store,
) -> None:
    def outcome(text: str, tags: frozenset[str]) -> LeadOutcome:
        return LeadOutcome("no_match", text=text, tags=tags)

    store.record_lead_message("4", "400", 1_000_000.0, lambda _: outcome("a", frozenset({"vip"})))
    store.record_lead_message("5", "400", 1_000_001.0, lambda _: outcome("b", frozenset()), False)
    store.record_lead_message("6", "401", 1_000_002.0, lambda _: outcome("c", frozenset()), False)
    assert [(m.text, m.tags, m.first_message) for m in store.stored_messages(0)] == [
        ("a", frozenset({"vip"}), True),
        ("b", frozenset(), False),
        ("c", frozenset(), True),
    ]


def test_concurrent_copies_of_one_part_are_recorded_once(store: Store, database_url: str) -> None:
    barrier = threading.Barrier(8)

    def record(_: int) -> bool:
        own = Store(database_url)
        barrier.wait()
        outcome = own.record_lead_message("7", "100", 1_000_000.0, lambda m: queued(reply_for("7")))
        own.close()
        return outcome is not None

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(record, range(8)))
    assert results.count(True) == 1
    assert len(store.outbox()) == 1


def test_operator_message_and_echo_are_remembered(store: Store) -> None:
    store.record_lead_message("1", "100", 1_000_000.0, lambda m: queued(reply_for("1")))
    assert store.is_our_reply("100", 12345)
    assert not store.is_our_reply("100", 999)
    assert not store.is_our_reply("200", 12345)
    assert store.record_operator_message("2", "100", 1_000_050.0)
    assert not store.record_operator_message("2", "100", 1_000_060.0)
    assert store.memory("100").operator_at == 1_000_050.0


def test_random_id_zero_or_none_is_never_our_echo(store: Store) -> None:
    # A rule with an event queues a lead call stored with random_id 0; an operator's part
    # with random_id 0 is still an operator's.
    with_event = NewReply(
        **{**reply_for("1").__dict__, "lead_actions": (Event(lead="7", event="signed_up"),)}
    )
    store.record_lead_message("1", "100", 1_000_000.0, lambda m: queued(with_event))
    assert len(store.outbox()) == 2
    assert not store.is_our_reply("100", 0)
    assert not store.is_our_reply("100", None)


def test_our_reply_is_recognised_by_its_text_within_the_window(store: Store) -> None:
    reply = NewReply(**{**reply_for("1").__dict__, "actions": (Reply(body="Hi!"),)})
    store.record_lead_message("1", "100", 1_000_000.0, lambda m: queued(reply))
    assert store.is_our_reply("100", None, echo_key("<p>hi!</p>"), since=999_000.0)
    assert not store.is_our_reply("100", None, echo_key("<p>Hi there!</p>"), since=999_000.0)
    assert not store.is_our_reply("200", None, echo_key("Hi!"), since=999_000.0)
    assert not store.is_our_reply("100", None, echo_key("Hi!"), since=1_000_001.0)


def test_a_handoff_is_remembered(store: Store) -> None:
    handoff = NewReply(**{**reply_for("1").__dict__, "hands_off": True})
    store.record_lead_message("1", "100", 1_000_000.0, lambda m: queued(handoff))
    assert store.memory("100").handed_off_at == 1_000_000.0


def test_claims_never_hand_one_reply_to_two_workers(store: Store, database_url: str) -> None:
    for number in range(20):
        store.record_lead_message(
            str(number),
            str(number),
            1_000_000.0,
            lambda m, n=number: queued(reply_for(str(n), str(n))),
        )
    barrier = threading.Barrier(4)

    def claim_all(_: int) -> list[int]:
        own, claimed = Store(database_url), []
        barrier.wait()
        while (item := own.claim_due(1_000_001.0, 60)) is not None:
            claimed.append(item.id)
        own.close()
        return claimed

    with ThreadPoolExecutor(4) as pool:
        claimed = [i for ids in pool.map(claim_all, range(4)) for i in ids]
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 20


def test_a_claim_expires_so_a_dead_workers_reply_comes_due_again(store: Store) -> None:
    store.record_lead_message("1", "100", 1_000_000.0, lambda m: queued(reply_for("1")))
    first = store.claim_due(1_000_000.0, lease_seconds=60)
    assert first is not None and first.attempts == 1
    assert store.claim_due(1_000_059.0, 60) is None
    again = store.claim_due(1_000_061.0, 60)
    assert again is not None and (again.id, again.attempts) == (first.id, 2)


def test_retry_dead_revive_and_finish(store: Store) -> None:
    store.record_lead_message("1", "100", 1_000_000.0, lambda m: queued(reply_for("1")))
    item = store.claim_due(1_000_000.0, 60)
    store.retry_later(item.id, 1_000_010.0, "HTTP 500")
    assert store.claim_due(1_000_005.0, 60) is None
    item = store.claim_due(1_000_010.0, 60)
    store.bury(item.id, "HTTP 400", 1_000_011.0, FailureKind.REFUSED)
    [dead] = store.outbox()
    assert (dead.status, dead.last_error) == ("dead", "HTTP 400")
    # Why it died is kept beside the text: /healthz reads the kind, not the words.
    assert store.last_dead_since(1_000_000.0) == FailureKind.REFUSED
    assert store.last_dead_since(1_000_012.0) is None
    assert store.revive(item.id, 1_000_020.0, 1_000_920.0)
    assert not store.revive(item.id, 1_000_020.0, 1_000_920.0)
    item = store.claim_due(1_000_020.0, 60)
    store.finish(item.id, "done", 1_000_021.0)
    assert store.outbox() == []
    assert store.outbox_counts() == {"done": 1}


def test_prune_forgets_old_records_but_keeps_handoffs(store: Store) -> None:
    day = 24 * 3600.0
    handoff = NewReply(**{**reply_for("1", "100").__dict__, "hands_off": True})
    store.record_lead_message("1", "100", 1_000_000.0, lambda m: queued(handoff))
    store.record_lead_message("2", "200", 1_000_000.0, lambda m: queued(reply_for("2", "200")))
    for item in (store.claim_due(1_000_000.0, 60), store.claim_due(1_000_000.0, 60)):
        store.finish(item.id, "done", 1_000_000.0)
    store.record_lead_message("3", "300", 1_000_000.0 + 29 * day, lambda m: NOTHING)
    assert store.prune(1_000_000.0 + 31 * day) > 0
    assert store.record_lead_message("1", "100", 1e9, lambda m: NOTHING)  # id forgotten
    assert store.record_lead_message("3", "300", 1e9, lambda m: NOTHING) is None  # still recent
    assert store.memory("100").handed_off_at == 1_000_000.0
    assert store.memory("200") == ConversationMemory()
    assert store.outbox_counts() == {}


@pytest.mark.slow
def test_an_unreachable_database_raises_store_unavailable() -> None:
    from app.store import StoreUnavailable

    store = Store("postgresql://nobody:secret-pw@127.0.0.1:9/none")
    with pytest.raises(StoreUnavailable) as caught:
        store.ping()
    assert "secret-pw" not in str(caught.value)


def test_replies_in_one_conversation_are_claimed_in_order(store: Store) -> None:
    for part_id, conversation in (("1", "100"), ("2", "100"), ("3", "200")):
        store.record_lead_message(
            part_id,
            conversation,
            1_000_000.0,
            lambda m, p=part_id, c=conversation: queued(reply_for(p, c)),
        )
    first = store.claim_due(1_000_000.0, 60)
    other = store.claim_due(1_000_000.0, 60)
    assert (first.part_id, other.part_id) == ("1", "3")  # "2" waits for "1"
    assert store.claim_due(1_000_000.0, 60) is None
    store.retry_later(first.id, 1_000_010.0, "HTTP 500")
    assert store.claim_due(1_000_005.0, 60) is None  # still behind its failing predecessor
    store.finish(store.claim_due(1_000_010.0, 60).id, "done", 1_000_010.0)
    assert store.claim_due(1_000_010.0, 60).part_id == "2"


def test_one_transaction_records_finished_replies_and_claims_several(store: Store) -> None:
    for part_id, conversation in (("1", "100"), ("2", "100"), ("3", "200"), ("4", "300")):
        store.record_lead_message(
            part_id,
            conversation,
            1_000_000.0 + int(part_id),
            lambda m, p=part_id, c=conversation: queued(reply_for(p, c)),
        )
    claimed = store.finish_and_claim((), 1_000_010.0, 60, limit=2)
    assert [item.part_id for item in claimed] == ["1", "3"]  # oldest first, "2" behind "1"
    done = [Finished(item.id, "done", 1_000_011.0) for item in claimed]
    claimed = store.finish_and_claim(done, 1_000_011.0, 60, limit=5)
    assert [item.part_id for item in claimed] == ["2", "4"]
    assert store.outbox_counts() == {"done": 2, "sending": 2}
    assert store.finish_and_claim([Finished(claimed[0].id, "done", 1.0)], 1e6, 60, 0) == []
    assert store.outbox_counts() == {"done": 3, "sending": 1}


def recorded_parts_in_database_file(url: str, copy: Path) -> set[str]:
    """The lead parts the database file holds by itself, without its WAL."""
    shutil.copyfile(url.removeprefix("sqlite:///"), copy)
    with closing(sqlite3.connect(copy)) as connection:
        return {row[0] for row in connection.execute("SELECT part_id FROM lead_messages")}


def test_a_checkpoint_moves_the_wal_into_the_database_file(sqlite_url: str, tmp_path: Path) -> None:
    store = Store(sqlite_url)
    store.migrate()
    store.checkpoint()  # the schema
    store.record_lead_message("1", "100", 1_000_000.0, lambda m: NOTHING)
    # The message is in the WAL only...
    assert recorded_parts_in_database_file(sqlite_url, tmp_path / "a.sqlite3") == set()
    store.checkpoint()
    # ...until a checkpoint, made on a connection of its own, copies it back.
    assert recorded_parts_in_database_file(sqlite_url, tmp_path / "b.sqlite3") == {"1"}


def test_checkpoints_run_until_stopped(database_url: str, tmp_path: Path) -> None:
    store = Store(database_url)
    store.migrate()
    store.checkpoint()  # the schema (on PostgreSQL: nothing to do)
    store.record_lead_message("1", "100", 1_000_000.0, lambda m: NOTHING)
    stop = threading.Event()
    thread = threading.Thread(target=store.keep_checkpointing, args=(stop,), daemon=True)
    thread.start()
    if store.dialect == "sqlite":
        deadline = time.monotonic() + 10
        while recorded_parts_in_database_file(database_url, tmp_path / "copy.sqlite3") != {"1"}:
            assert time.monotonic() < deadline, "no checkpoint within 10 s"
            time.sleep(0.1)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    store.close()


def test_sqlite_commits_are_durable_and_its_wal_is_bounded(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    store.migrate()
    connection = store.backend.connect()
    # FULL (2): the commit is on disk before the webhook is answered, even across a power loss.
    assert connection.execute("PRAGMA synchronous").fetchone() == (2,)
    assert connection.execute("PRAGMA journal_size_limit").fetchone() == (512 * 1024,)


def test_forgetting_texts_also_empties_finished_replies_of_what_the_lead_said(
    store: Store,
) -> None:
    said = NewReply(
        **{
            **reply_for("1", "100").__dict__,
            "actions": (Reply(body="We will write to ann@example.com"),),
            "lead_actions": (Props(lead="7", props=[["$email", "ann@example.com"]]),),
        }
    )
    store.record_lead_message("1", "100", 1_000.0, lambda m: queued(said))
    store.record_lead_message("2", "200", 1_000.0, lambda m: queued(reply_for("2", "200")))
    finished = store.claim_due(1_000.0, 60)
    store.finish(finished.id, "dead", 1_000.0)
    store.forget_texts(2_000.0)
    [dead] = store.outbox(("dead",))
    assert "ann@example.com" not in repr(dead)
    assert store.revive(dead.id, 3_000.0, 4_000.0) is False  # nothing left to send
    pending = store.outbox(("pending",))
    assert pending and all(item.actions for item in pending)  # still to send: kept


@pytest.mark.slow
def test_a_refused_login_is_said_as_such_not_as_a_slow_database() -> None:
    from urllib.parse import urlsplit

    url = postgres_url()
    if url is None:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (`.ci/run` starts a server)")
    server = urlsplit(url)
    store = Store(f"postgresql://nobody:wrong@{server.hostname}:{server.port}/nowhere")
    with pytest.raises(StoreUnavailable) as raised:
        store.outbox_counts()
    store.close()
    said = str(raised.value)
    assert said.startswith("no database connection within 3 s: ")
    assert "does not exist" in said and "slow" not in said
    assert "wrong" not in said  # the password never shows
