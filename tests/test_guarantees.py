"""The guarantees on the bad days that break them quietly: a human writes while a reply waits
for the API, our reply comes back without its random_id, the store fails between a call and
its record. Each scenario runs the real app, store and delivery thread against the API stand-in
on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer

from app.actions import Reply, Tag
from app.dashly import DashlyClient
from app.delivery import Delivery
from app.runtime import runtime_of
from app.store import LeadOutcome, NewReply, Store, StoreUnavailable
from tests.fakes.dashly import StandIn
from tests.helpers import (
    API_TOKEN,
    load_part,
    wait_for,
    webhook_form,
    write_rules,
)
from tests.postgres_server import PostgresServer

PRICES = """
[[rule]]
id = "prices"
phrases = ["price"]
answer = "Plans start at $10 a month."
tag = "pricing"

[[rule]]
id = "greeting"
phrases = ["hello"]
answer = "Hi {{ lead.name }}! How can I help?"
"""


@pytest.fixture
def stand_in(httpserver: HTTPServer) -> StandIn:
    return StandIn(httpserver)


def prices_service(
    make_app: Callable[..., Flask], stand_in: StandIn, tmp_path: Path, **settings: str
) -> Flask:
    """The app with the PRICES rules, talking to the stand-in."""
    write_rules(tmp_path / "rules", PRICES)
    return make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=stand_in.server.url_for("/"),
        RULES_DIR=str(tmp_path / "rules"),
        **settings,
    )


@pytest.fixture
def service(make_app: Callable[..., Flask], stand_in: StandIn, tmp_path: Path) -> Flask:
    return prices_service(make_app, stand_in, tmp_path)


def lead(client: FlaskClient, body: str, part_id: int, conversation: int) -> str:
    part = load_part("reply_user", id=part_id, conversation=conversation, body=body)
    return client.post("/webhooks/dashly", data=webhook_form(part)).json["status"]


def operator(client: FlaskClient, body: str, part_id: int, conversation: int, **changes: Any):
    """A human operator writing from Dashly's web app, as the documentation's sample shows."""
    part = load_part("reply_admin", id=part_id, conversation=conversation, body=body)
    part.update({"sent_via": "app_chrome", "random_id": 0, **changes})
    return client.post("/webhooks/dashly", data=webhook_form(part)).json


def outbox(app: Flask) -> Store:
    return runtime_of(app).store


def test_a_reply_still_waiting_when_an_operator_writes_is_cancelled_and_its_tags_still_go(
    service: Flask, stand_in: StandIn
) -> None:
    client = service.test_client()
    stand_in.failing.set()
    conversations = range(600, 605)
    for n, conversation in enumerate(conversations):
        assert lead(client, "What is the price?", 2000 + n, conversation) == "replied"
    wait_for(lambda: len(stand_in.tried()) >= 5)
    for n, conversation in enumerate(conversations):
        answer = operator(client, "Hello, this is Alex. Let me check.", 3000 + n, conversation)
        assert answer == {"status": "ignored"}
    recovered_at = time.monotonic()
    stand_in.failing.clear()

    store = outbox(service)
    cancelled = wait_for(lambda: len(store.outbox(("cancelled",))) == 5 and store.outbox())
    assert {item.status for item in cancelled} == {"cancelled"}
    assert all("operator wrote" in (item.last_error or "") for item in cancelled)
    # No bot reply goes out after the human's; the tags do.
    assert [c for c in stand_in.sent() if c[2] >= recovered_at] == []
    wait_for(lambda: len(stand_in.sent("/tag")) == 5)
    assert {c[1]["tag"] for c in stand_in.sent("/tag")} == {"pricing"}
    # Not dead: the service is healthy, and the rule has not answered those conversations.
    assert client.get("/healthz").json["status"] == "ok"
    assert "prices" not in store.memory("600").answered_rules


def test_our_reply_coming_back_without_its_random_id_is_recognised_by_its_text(
    service: Flask, stand_in: StandIn
) -> None:
    client = service.test_client()
    assert lead(client, "price please", 4001, 700) == "replied"
    assert lead(client, "hello", 4002, 701) == "replied"
    wait_for(lambda: len(stand_in.sent()) == 2)
    # The echo as a webhook brings it: HTML, no random_id, from the bot's admin.
    bot = {"id": 1, "type": "default_admin", "name": "Bot"}
    plain = {"from": bot, "sent_via": "", "random_id": None}
    echo = operator(client, "<p>Plans start at $10 a month.</p>", 4003, 700, **plain)
    assert echo == {"status": "ignored"}
    # A reply rendered at delivery (the lead's name) is recognised too.
    assert operator(client, "<p>Hi Anna! How can I help?</p>", 4004, 701, **plain) == {
        "status": "ignored"
    }
    store = outbox(service)
    assert store.memory("700").operator_at is None
    assert store.memory("701").operator_at is None
    # The bot is not silenced: the next question is answered.
    assert lead(client, "hello", 4005, 700) == "replied"
    # A human who writes something else is a human.
    operator(client, "Anything else?", 4006, 701)
    assert store.memory("701").operator_at is not None


def test_with_typing_on_our_echo_without_random_id_is_still_ours(
    make_app: Callable[..., Flask], stand_in: StandIn, tmp_path: Path
) -> None:
    """ "typing…" is the first step: the reply's text is still recorded for its echo, so the
    bot does not take its own reply for an operator and fall silent for an hour."""
    app = prices_service(make_app, stand_in, tmp_path, TYPING_SECONDS="1")
    client = app.test_client()
    assert lead(client, "price please", 4101, 710) == "replied"
    wait_for(lambda: stand_in.sent(), timeout=10)
    bot = {"from": {"id": 1, "type": "default_admin", "name": "Bot"}, "random_id": None}
    assert operator(client, "<p>Plans start at $10 a month.</p>", 4102, 710, **bot) == {
        "status": "ignored"
    }
    assert outbox(app).memory("710").operator_at is None
    assert lead(client, "hello", 4103, 710) == "replied"


def test_an_operator_sending_the_bots_words_is_a_human_with_the_default_admin(
    service: Flask, stand_in: StandIn
) -> None:
    """DASHLY_ADMIN_ID `default_admin`: only a part from the account's default admin can be
    the bot's echo; an operator who sends the same saved reply starts the quiet period."""
    client = service.test_client()
    assert lead(client, "price?", 4201, 720) == "replied"
    wait_for(lambda: stand_in.sent())
    person = {"from": {"id": 14709, "type": "admin", "name": "Alex"}, "random_id": None}
    operator(client, "Plans start at $10 a month.", 4202, 720, **person)
    assert outbox(service).memory("720").operator_at is not None
    assert lead(client, "hello", 4203, 720) == "ignored"


def test_with_a_numeric_admin_id_only_that_admin_can_echo_our_text(
    make_app: Callable[..., Flask], stand_in: StandIn, tmp_path: Path
) -> None:
    app = prices_service(make_app, stand_in, tmp_path, DASHLY_ADMIN_ID="555")
    client = app.test_client()
    assert lead(client, "price?", 5001, 800) == "replied"
    wait_for(lambda: stand_in.sent())
    said = "Plans start at $10 a month."
    operator(client, said, 5002, 800, **{"from": {"id": 555, "type": "admin"}})
    assert outbox(app).memory("800").operator_at is None
    # Another admin saying the same words is a human who wrote.
    operator(client, said, 5003, 800, **{"from": {"id": 14709, "type": "admin"}})
    assert outbox(app).memory("800").operator_at is not None


@pytest.fixture
def slow_api() -> Iterator[StandIn]:
    """A stand-in that takes 3 s to answer a reply, answering calls in parallel as Dashly does."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield StandIn(server, reply_seconds=3.0)
    server.clear()
    server.stop()


def queue_reply_and_tag(store: Store, part_id: str, conversation: str, now: float) -> None:
    actions = (Reply(body=f"Answer {part_id}"), Tag("bot"))
    reply = NewReply(part_id, conversation, "prices", int(part_id), actions, now + 900)
    store.record_lead_message(
        part_id, conversation, now, lambda memory: LeadOutcome("replied", "prices", reply=reply)
    )


def nothing_left(store: Store) -> bool:
    """Whether every reply is finished; False while the store is still known down (each
    worker notices it is back within a second or two)."""
    try:
        return not store.outbox(("pending", "sending"))
    except StoreUnavailable:
        return False


@pytest.mark.slow
def test_a_call_made_while_the_store_is_frozen_is_recorded_later_and_never_repeated(
    own_postgres: Callable[..., PostgresServer], slow_api: StandIn
) -> None:
    """Two workers; the store freezes 8 s (longer than the lease) while six replies are in
    flight. Each worker keeps what it sent and records it once the store is back; the other
    worker does not take over what a live worker holds."""
    server = own_postgres()
    stores = [Store(server.url), Store(server.url)]
    stores[0].migrate()
    stores[1].migrate()
    for n in range(6):
        queue_reply_and_tag(stores[0], str(9100 + n), str(910 + n), time.time())
    workers = [
        Delivery(store, DashlyClient(slow_api.server.url_for("/"), "key", "1"), lease_seconds=6)
        for store in stores
    ]
    try:
        for worker in workers:
            worker.start()
            worker.wake()
        time.sleep(1.0)  # every reply call is in flight: the API takes 3 s
        server.freeze()
        time.sleep(8.0)
        server.thaw()
        wait_for(lambda: nothing_left(stores[0]), timeout=40, interval=0.2)
        time.sleep(6.0)  # a lease's length: a takeover would have sent again by now
    finally:
        server.thaw()
        for worker in workers:
            worker.stop(drain_seconds=0)
    replies = [call[0] for call in slow_api.sent("/reply")]
    tags = [call[0] for call in slow_api.sent("/tag")]
    assert sorted(replies) == sorted(set(replies)) and len(replies) == 6
    assert sorted(tags) == sorted(set(tags)) and len(tags) == 6


@pytest.mark.slow
def test_a_dead_workers_claim_is_taken_over_only_after_its_lease_and_a_grace(
    sqlite_url: str, stand_in: StandIn
) -> None:
    """A worker that starts (or whose store comes back) gives live holders time to renew
    their leases before it takes over an expired claim: only a dead holder's step is sent
    again, and then it is."""
    store = Store(sqlite_url)
    store.migrate()
    queue_reply_and_tag(store, "9201", "920", time.time())
    store.claim_due(time.time(), lease_seconds=0.2, holder="a worker that died")
    time.sleep(0.3)  # its lease has run out
    worker = Delivery(
        store, DashlyClient(stand_in.server.url_for("/"), "key", "1"), lease_seconds=5
    )
    worker.start()
    try:
        time.sleep(1.5)
        assert stand_in.sent() == []  # within the grace: a live holder would renew now
        wait_for(lambda: stand_in.sent(), timeout=5)
    finally:
        worker.stop(drain_seconds=0)


@pytest.mark.parametrize(
    ("assignee", "quiet", "answer"),
    [
        ({"id": 111, "type": "admin", "name": "inkov"}, "true", "ignored"),
        ({"id": 1, "type": "default_admin", "name": "Bot"}, "true", "replied"),
        (None, "true", "replied"),
        ({"id": 111, "type": "admin", "name": "inkov"}, "false", "replied"),
    ],
)
def test_quiet_when_assigned_keeps_the_bot_out_of_a_chat_a_person_was_assigned(
    make_app: Callable[..., Flask],
    stand_in: StandIn,
    tmp_path: Path,
    assignee: dict | None,
    quiet: str,
    answer: str,
) -> None:
    """The lead's part says who has the conversation (`assignee`, as the documented part
    shows): with QUIET_WHEN_ASSIGNED, anyone but the bot's own admin keeps the bot silent."""
    app = prices_service(make_app, stand_in, tmp_path, QUIET_WHEN_ASSIGNED=quiet)
    part = load_part("reply_user", id=5101, conversation=850, body="price?", assignee=assignee)
    status = app.test_client().post("/webhooks/dashly", data=webhook_form(part)).json["status"]
    assert status == answer


def test_a_reply_waiting_when_a_person_is_assigned_is_cancelled(
    make_app: Callable[..., Flask], stand_in: StandIn, tmp_path: Path
) -> None:
    app = prices_service(make_app, stand_in, tmp_path, QUIET_WHEN_ASSIGNED="true")
    client = app.test_client()
    stand_in.failing.set()
    unassigned = load_part("reply_user", id=5201, conversation=860, body="price?", assignee=None)
    assert client.post("/webhooks/dashly", data=webhook_form(unassigned)).json == {
        "status": "replied"
    }
    wait_for(lambda: stand_in.tried())
    person = {"id": 111, "type": "admin", "name": "inkov"}
    taken = load_part("reply_user", id=5202, conversation=860, body="hello?", assignee=person)
    assert client.post("/webhooks/dashly", data=webhook_form(taken)).json == {"status": "ignored"}
    stand_in.failing.clear()
    store = outbox(app)
    [item] = wait_for(lambda: store.outbox(("cancelled",)), timeout=10)
    assert "assigned to an operator" in (item.last_error or "")
    assert stand_in.sent() == []
