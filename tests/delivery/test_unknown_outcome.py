"""A reply whose call failed in a way that leaves open whether Dashly stored it (a timeout, a
5xx, a 200 without Dashly's answer, a worker that died mid-call) is looked for before it is
sent again: in its echo, or in the conversation's messages. The real store and delivery thread
against a stand-in that stores a reply as Dashly does and then fails, or fails first."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.actions import Reply, Tag
from app.dashly import DashlyClient
from app.delivery import Delivery
from app.store import LeadOutcome, NewReply, Store
from app.text import echo_key
from tests.fakes.dashly import PARTS_PATH, REPLY_PATH, TAG_PATH, Conversations, dashly_answer
from tests.helpers import wait_for

# Waits out unknown outcomes for seconds each: left out of `make test-quick`.
pytestmark = pytest.mark.slow

ANSWER = "Plans start at $10 a month."
CONVERSATION = "640"


class FlakyDashly:
    """Dashly on loopback whose reply call fails the first `failures` times: after storing
    the reply (`stores_first`) or before. Its messages can be read unless `parts_status` says
    otherwise (403: a key without `conversations-read`)."""

    def __init__(
        self,
        server: HTTPServer,
        failures: int = 1,
        stores_first: bool = True,
        failure: str = "500",
        parts_status: int = 200,
    ) -> None:
        self.conversations = Conversations()
        self.failures = failures
        self.stores_first = stores_first
        self.failure = failure
        self.parts_status = parts_status
        self.reply_calls = 0
        self._lock = threading.Lock()
        server.expect_request(REPLY_PATH, method="POST").respond_with_handler(self._reply)
        server.expect_request(PARTS_PATH, method="GET").respond_with_handler(self._parts)
        server.expect_request(TAG_PATH, method="POST").respond_with_handler(
            lambda request: dashly_answer()
        )
        self.server = server

    def _reply(self, request: Request) -> Response:
        with self._lock:
            self.reply_calls += 1
            failing = self.reply_calls <= self.failures
        if not failing or self.stores_first:
            self.conversations.reply(request)
        if not failing:
            return dashly_answer()
        if self.failure == "timeout":
            time.sleep(1.5)  # longer than the client's read timeout
            return dashly_answer()
        if self.failure == "no meta":
            return Response("OK", 200, content_type="text/plain")
        return dashly_answer(500, "InternalError")

    def _parts(self, request: Request) -> Response:
        if self.parts_status != 200:
            return dashly_answer(self.parts_status, "PermissionDeniedError")
        return self.conversations.list_parts(request)

    def stored(self) -> list[str]:
        """The bodies of the replies Dashly holds in the conversation."""
        return [p["body"] for p in self.conversations.parts(CONVERSATION)]

    def tags(self) -> int:
        return len([r for r, _ in self.server.log if r.path.endswith("/tag")])


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.migrate()
    yield store
    store.close()


def queue_reply(store: Store, part_id: str = "6401") -> None:
    actions = (Reply(body=ANSWER), Tag("pricing"))
    reply = NewReply(part_id, CONVERSATION, "prices", 77, actions, time.time() + 900)
    store.record_lead_message(
        part_id, CONVERSATION, time.time(), lambda memory: LeadOutcome("replied", reply=reply)
    )


def run_delivery(store: Store, server: HTTPServer, echo_wait: float = 30.0) -> Delivery:
    client = DashlyClient(server.url_for("/"), "key", "default_admin", timeout=(1.0, 0.5))
    delivery = Delivery(store, client, lease_seconds=5, echo_wait_seconds=echo_wait)
    delivery.start()
    delivery.wake()
    return delivery


def settle(store: Store, delivery: Delivery, timeout: float = 10.0) -> None:
    try:
        wait_for(lambda: not store.outbox(("pending", "sending")), timeout=timeout)
    finally:
        delivery.stop(drain_seconds=0)


@pytest.mark.parametrize("failure", ["500", "timeout", "no meta"])
def test_a_reply_dashly_stored_before_the_call_failed_is_not_sent_again(
    store: Store, httpserver: HTTPServer, failure: str
) -> None:
    dashly = FlakyDashly(httpserver, failure=failure, stores_first=True)
    queue_reply(store)
    settle(store, run_delivery(store, httpserver))
    assert dashly.reply_calls == 1
    assert dashly.stored() == [f"<p>{ANSWER}</p>"]  # the lead sees it once
    assert dashly.tags() == 1  # the rest of the rule still went
    assert store.outbox_counts() == {"done": 1}


def test_a_reply_the_call_failed_before_storing_is_sent_again_once(
    store: Store, httpserver: HTTPServer
) -> None:
    dashly = FlakyDashly(httpserver, failures=2, stores_first=False)
    queue_reply(store)
    settle(store, run_delivery(store, httpserver), timeout=15)
    assert dashly.reply_calls == 3
    assert dashly.stored() == [f"<p>{ANSWER}</p>"]
    assert store.outbox_counts() == {"done": 1}


def test_unreadable_messages_wait_for_the_echo_then_resend_without_it(
    store: Store, httpserver: HTTPServer
) -> None:
    """A key without `conversations-read` (403): the reply goes again only once the wait for
    its echo has passed without one."""
    dashly = FlakyDashly(httpserver, stores_first=False, parts_status=403)
    queue_reply(store)
    started = time.monotonic()
    settle(store, run_delivery(store, httpserver, echo_wait=2.0))
    assert dashly.reply_calls == 2
    assert time.monotonic() - started >= 2.0  # not before the wait was over
    assert dashly.stored() == [f"<p>{ANSWER}</p>"]


def test_unreadable_messages_and_the_echo_arrived_means_not_sent_again(
    store: Store, httpserver: HTTPServer
) -> None:
    dashly = FlakyDashly(httpserver, stores_first=True, parts_status=403)
    queue_reply(store)
    delivery = run_delivery(store, httpserver, echo_wait=3.0)
    wait_for(lambda: dashly.reply_calls == 1)
    # Dashly posts the reply back to the webhook: the handler recognises it by its text.
    assert store.is_our_reply(CONVERSATION, None, echo_key(f"<p>{ANSWER}</p>"), 0, time.time())
    settle(store, delivery)
    assert dashly.reply_calls == 1
    assert store.outbox_counts() == {"done": 1}


@pytest.mark.parametrize("reached_dashly", [True, False])
def test_a_reply_taken_over_from_a_worker_that_died_mid_call_is_sent_once(
    store: Store, httpserver: HTTPServer, reached_dashly: bool
) -> None:
    """kill -9 between the call and its record: the next worker takes the item over when the
    lease runs out and sends the reply only if Dashly does not have it."""
    dashly = FlakyDashly(httpserver, failures=0)
    queue_reply(store)
    store.claim_due(time.time(), lease_seconds=0.2, holder="a worker killed mid-call")
    if reached_dashly:
        dashly.conversations.store(CONVERSATION, {"body": ANSWER})
        # What the dead worker recorded before its call: the text, for its echo.
        store.record_reply_key(store.outbox()[0].id, echo_key(ANSWER))
    time.sleep(0.3)
    settle(store, run_delivery(store, httpserver))
    assert dashly.stored() == [f"<p>{ANSWER}</p>"]
    assert dashly.reply_calls == (0 if reached_dashly else 1)
    assert dashly.tags() == 1


def test_a_reply_from_another_admin_with_the_same_text_is_not_ours(
    store: Store, httpserver: HTTPServer
) -> None:
    """An operator who sent the same words is no proof that the bot's reply arrived."""
    dashly = FlakyDashly(httpserver, stores_first=False)
    dashly.conversations.store(CONVERSATION, {"body": ANSWER, "from_admin": "14709"})
    queue_reply(store)
    settle(store, run_delivery(store, httpserver))
    assert dashly.reply_calls == 2
    assert len(dashly.stored()) == 2
