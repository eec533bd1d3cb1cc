"""Delivery under faults: the real outbox and client against a misbehaving API on loopback.

The worker is driven step by step with a clock the test moves, so a 15-minute retry window
takes no real time.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.actions import Assign, Reply, Tag
from app.dashly import DashlyClient
from app.delivery import Delivery, retry_delay
from app.handling import DELIVERY_WINDOW_SECONDS
from app.store import LeadOutcome, NewReply, Store

T0 = 1_000_000.0
REPLY_PATH = "/conversations/100/reply"
PARTS_PATH = "/conversations/100/parts"


class Clock:
    """The time delivery sees; the test moves it forward."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.migrate()
    yield store
    store.close()  # its pool's connections: a 20-connection server runs out otherwise


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def delivery(store: Store, httpserver: HTTPServer, clock: Clock) -> Delivery:
    return Delivery(
        store, DashlyClient(httpserver.url_for("/"), "key", "default_admin", clock), clock
    )


def queue(
    store: Store,
    part_id: str = "1",
    actions: tuple = (Reply(body="Hi"),),
    conversation: str = "100",
    random_id: int = 4242,
    now: float = T0,
) -> None:
    reply = NewReply(
        part_id, conversation, "greeting", random_id, actions, now + DELIVERY_WINDOW_SECONDS
    )
    store.record_lead_message(
        part_id, conversation, now, lambda memory: LeadOutcome("replied", "greeting", reply=reply)
    )


def run_until_settled(delivery: Delivery, store: Store, clock: Clock) -> None:
    """Deliver, moving the clock to each retry, until nothing is pending."""
    for _ in range(100):
        delivery.deliver_next()
        waiting = store.outbox(("pending", "sending"))
        if not waiting:
            return
        clock.now = max(clock.now, waiting[0].next_attempt_at)
    raise AssertionError("delivery did not settle")


def responses(*answers: tuple[int, dict]) -> Callable[[Request], Response]:
    """A handler answering each call with the next status (the last one repeats)."""
    calls = []

    def handler(request: Request) -> Response:
        status, headers = answers[min(len(calls), len(answers) - 1)]
        calls.append(request)
        body = f'{{"meta": {{"status": {status}}}, "data": {{}}}}'
        return Response(body, status=status, headers=headers, content_type="application/json")

    return handler


def test_500s_then_success_is_delivered_once_with_the_same_random_id(
    delivery: Delivery, store: Store, clock: Clock, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(REPLY_PATH).respond_with_handler(
        responses((500, {}), (502, {}), (200, {}))
    )
    # Each 5xx leaves open whether Dashly stored the reply: its messages are read, and (the
    # 5xx came before storing) it is sent again.
    httpserver.expect_request(PARTS_PATH).respond_with_json({"meta": {"status": 200}, "data": []})
    queue(store)
    run_until_settled(delivery, store, clock)
    calls = [request for request, _ in httpserver.log]
    calls = [request for request in calls if request.method == "POST"]
    assert [r.status_code for q, r in httpserver.log if q.method == "POST"] == [500, 502, 200]
    assert {parse_qs(r.get_data(as_text=True))["random_id"][0] for r in calls} == {"4242"}
    assert store.outbox_counts() == {"done": 1}


def test_429_waits_for_retry_after(
    delivery: Delivery, store: Store, clock: Clock, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(REPLY_PATH).respond_with_handler(
        responses((429, {"Retry-After": "120"}), (200, {}))
    )
    queue(store)
    delivery.deliver_next()
    [waiting] = store.outbox()
    assert waiting.next_attempt_at >= T0 + 120
    assert "HTTP 429" in waiting.last_error
    clock.now = T0 + 119
    assert not delivery.deliver_next()
    clock.now = waiting.next_attempt_at
    assert delivery.deliver_next()
    assert store.outbox_counts() == {"done": 1}


def test_a_read_timeout_is_retried(store: Store, clock: Clock, httpserver: HTTPServer) -> None:
    slow = {"first": True}

    def handler(request: Request) -> Response:
        if slow.pop("first", False):
            time.sleep(0.6)
        return Response('{"meta": {"status": 200}}', content_type="application/json")

    httpserver.expect_request(REPLY_PATH).respond_with_handler(handler)
    # The timed-out call stored nothing: the conversation's messages say so.
    httpserver.expect_request(PARTS_PATH).respond_with_json({"meta": {"status": 200}, "data": []})
    # The client's read timeout shortened: the network edge's timing.
    client = DashlyClient(httpserver.url_for("/"), "k", "default_admin", timeout=(1.0, 0.3))
    delivery = Delivery(store, client, clock)
    queue(store)
    delivery.deliver_next()
    [waiting] = store.outbox()
    assert waiting.status == "pending" and "timeout" in waiting.last_error
    run_until_settled(delivery, store, clock)
    assert store.outbox_counts() == {"done": 1}


def test_a_401_is_never_retried_and_is_logged_loudly_once(
    delivery: Delivery,
    store: Store,
    clock: Clock,
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    httpserver.expect_request(REPLY_PATH).respond_with_handler(responses((401, {})))
    queue(store, "1")
    queue(store, "2")
    caplog.set_level(logging.INFO, logger="app")
    run_until_settled(delivery, store, clock)
    assert len(httpserver.log) == 2
    assert [item.status for item in store.outbox()] == ["dead", "dead"]
    assert "HTTP 401" in store.outbox()[0].last_error
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1 and "DASHLY_API_TOKEN" in critical[0].getMessage()


def test_a_reply_that_keeps_failing_dies_after_the_window_and_stays_visible(
    delivery: Delivery, store: Store, clock: Clock, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(REPLY_PATH).respond_with_handler(responses((503, {})))
    queue(store)
    run_until_settled(delivery, store, clock)
    [dead] = store.outbox()
    assert dead.status == "dead" and "HTTP 503" in dead.last_error
    assert clock.now <= T0 + DELIVERY_WINDOW_SECONDS
    assert 5 <= dead.attempts <= 20


def test_tags_and_assign_follow_the_reply_and_a_retry_does_not_repeat_the_reply(
    delivery: Delivery, store: Store, clock: Clock, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(REPLY_PATH).respond_with_handler(responses((200, {})))
    httpserver.expect_request("/conversations/100/tag").respond_with_handler(
        responses((500, {}), (200, {}))
    )
    httpserver.expect_request("/conversations/100/assign").respond_with_handler(
        responses((200, {}))
    )
    actions = (
        Reply(body="An operator will take over."),
        Tag("human"),
        Assign("14709"),
    )
    queue(store, actions=actions)
    run_until_settled(delivery, store, clock)
    paths = [request.path.rsplit("/", 1)[1] for request, _ in httpserver.log]
    assert paths == ["reply", "tag", "tag", "assign"]
    assign = parse_qs(httpserver.log[-1][0].get_data(as_text=True))
    assert assign == {"admin": ["14709"], "from_admin": ["default_admin"]}


def test_a_burst_of_replies_is_sent_once_each_in_order_within_each_conversation(
    store: Store, httpserver: HTTPServer
) -> None:
    """The claimer's own loop, on the real clock: replies queued faster than it runs share
    its rounds, and none is lost, repeated or overtaken in its conversation."""
    httpserver.expect_request(re.compile(r"/conversations/\d+/reply")).respond_with_handler(
        responses((200, {}))
    )
    delivery = Delivery(store, DashlyClient(httpserver.url_for("/"), "k", "a"), time.time)
    delivery.start()
    try:
        for number in range(1, 25):
            conversation = str(100 + number % 4)
            queue(store, str(number), conversation=conversation, random_id=number, now=time.time())
            delivery.wake()
        deadline = time.monotonic() + 20
        while store.outbox(("pending", "sending")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        delivery.stop(drain_seconds=5)
    sent = [
        (request.path.split("/")[2], int(parse_qs(request.get_data(as_text=True))["random_id"][0]))
        for request, _ in httpserver.log
    ]
    assert sorted(number for _, number in sent) == list(range(1, 25))
    for conversation in ("100", "101", "102", "103"):
        numbers = [number for to, number in sent if to == conversation]
        assert numbers == sorted(numbers) and len(numbers) == 6
    assert store.outbox_counts() == {"done": 24}


def test_dry_run_sends_nothing_and_marks_the_reply(store: Store, clock: Clock) -> None:
    queue(store)
    assert Delivery(store, None, clock).deliver_next()
    assert store.outbox_counts() == {"dry_run": 1}


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    import random

    rng = random.Random(1)
    delays = [retry_delay(attempt, None, rng) for attempt in range(1, 9)]
    assert 0.5 <= delays[0] <= 1.0
    assert 32 <= delays[6] <= 64
    assert retry_delay(1, 300, rng) == 300
