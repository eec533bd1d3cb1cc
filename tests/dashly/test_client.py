"""The API client against a stand-in for Dashly on loopback."""

from __future__ import annotations

import re
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.dashly import (
    ApiFailure,
    DashlyClient,
    parse_retry_after,
)


def test_reply_posts_the_documented_form(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(
        "/conversations/1976383525275829882/reply",
        method="POST",
        headers={"Authorization": "Token key-1"},
        data="body=Hi+there%21&from_admin=42&random_id=12345",
    ).respond_with_json({"meta": {"status": 200}, "data": {}})
    client = DashlyClient(httpserver.url_for("/"), "key-1", "42")
    client.reply("1976383525275829882", "Hi there!", 12345)
    httpserver.check_assertions()


def test_an_api_url_with_a_path_keeps_it_in_every_call(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/api/conversations/5/tag", method="POST").respond_with_json(
        {"meta": {"status": 200}, "data": {}}
    )
    httpserver.expect_oneshot_request("/api/users/77").respond_with_json(
        {"meta": {"status": 200}, "data": {"props": {"$name": "Anna"}}}
    )
    client = DashlyClient(httpserver.url_for("/api/"), "key", "default_admin")
    client.add_tag("5", "vip")
    assert client.lead_name("77") == "Anna"
    httpserver.check_assertions()


def test_a_redirect_is_not_followed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/conversations/5/reply").respond_with_data(
        "", status=302, headers={"Location": "http://127.0.0.1:9/elsewhere"}
    )
    with pytest.raises(ApiFailure, match="HTTP 302"):
        DashlyClient(httpserver.url_for("/"), "key", "default_admin").reply("5", "x", 1)


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (401, False)]
)
def test_failures_are_split_into_retryable_and_final(
    httpserver: HTTPServer, status: int, retryable: bool
) -> None:
    httpserver.expect_request("/conversations/5/reply").respond_with_json(
        {"meta": {"status": status, "error": "Oops", "error_message": "details"}, "data": {}},
        status=status,
        headers={"Retry-After": "7"},
    )
    with pytest.raises(ApiFailure) as caught:
        DashlyClient(httpserver.url_for("/"), "key", "default_admin").reply("5", "x", 1)
    assert caught.value.retryable is retryable
    assert caught.value.status == status
    assert caught.value.retry_after == 7
    assert "Oops details" in str(caught.value)
    assert "key" not in str(caught.value)


def test_an_error_inside_a_200_answer_counts(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/conversations/5/reply").respond_with_json(
        {"meta": {"status": 400, "error": "ReplyTooBig"}, "data": {}}
    )
    with pytest.raises(ApiFailure, match=r"HTTP 400.*ReplyTooBig"):
        DashlyClient(httpserver.url_for("/"), "key", "default_admin").reply("5", "x", 1)


def test_unreachable_api_is_retryable() -> None:
    with pytest.raises(ApiFailure) as caught:
        DashlyClient("http://127.0.0.1:9", "key", "default_admin").reply("5", "x", 1)
    assert caught.value.retryable


def test_lead_name_is_read_from_props_and_never_raises(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/users/77").respond_with_json(
        {"meta": {"status": 200}, "data": {"props": {"$name": "Anna"}}}
    )
    httpserver.expect_request("/users/78").respond_with_data("oops", status=500)
    client = DashlyClient(httpserver.url_for("/"), "key", "default_admin")
    assert client.lead_name("77") == "Anna"
    assert client.lead_name("78") is None
    assert DashlyClient("http://127.0.0.1:9", "k", "a").lead_name("77") is None


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    later = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(later, now) == 30
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_a_refused_connection_says_cannot_connect() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens there once the socket is closed
    with pytest.raises(ApiFailure) as caught:
        DashlyClient(f"http://127.0.0.1:{port}", "key", "default_admin").reply("5", "x", 1)
    assert str(caught.value) == "cannot connect calling /conversations/5/reply"
    assert caught.value.retryable


def test_retry_after_holds_back_every_call_to_the_api(httpserver: HTTPServer) -> None:
    now = [1000.0]
    httpserver.expect_request(re.compile(r"^/conversations/\d+/reply$")).respond_with_data(
        "slow down", status=429, headers={"Retry-After": "30"}
    )
    client = DashlyClient(httpserver.url_for("/"), "key", "default_admin", lambda: now[0])
    with pytest.raises(ApiFailure):
        client.reply("5", "x", 1)
    calls = len(httpserver.log)
    now[0] += 10
    with pytest.raises(ApiFailure) as caught:
        client.reply("6", "other conversation", 2)
    assert caught.value.retryable and caught.value.retry_after == pytest.approx(20)
    assert client.lead_name("77") is None
    assert len(httpserver.log) == calls  # neither the reply nor the look-up reached the API
    now[0] += 21
    with pytest.raises(ApiFailure, match="HTTP 429"):
        client.reply("6", "other conversation", 2)
    assert len(httpserver.log) == calls + 1


def test_a_failed_name_look_up_is_not_remembered(httpserver: HTTPServer) -> None:
    answers = iter([Response("down", status=503), None])

    def handler(request: Request) -> Response:
        answer = next(answers)
        if answer is not None:
            return answer
        return Response(
            '{"meta": {"status": 200}, "data": {"props": {"$name": "Anna"}}}',
            content_type="application/json",
        )

    httpserver.expect_request("/users/77").respond_with_handler(handler)
    client = DashlyClient(httpserver.url_for("/"), "key", "default_admin")
    assert client.lead_name("77") is None
    assert client.lead_name("77") == "Anna"  # asked again, not "no name" for 5 minutes
    assert client.lead_name("77") == "Anna"
    assert len(httpserver.log) == 2  # the answer is remembered


def test_the_apis_error_text_is_kept_without_the_key(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/conversations/5/reply").respond_with_json(
        {"meta": {"status": 401, "error": "Unauthorized", "error_message": "bad key sk-abc-123"}},
        status=401,
    )
    with pytest.raises(ApiFailure) as caught:
        DashlyClient(httpserver.url_for("/"), "sk-abc-123", "default_admin").reply("5", "x", 1)
    assert "sk-abc-123" not in str(caught.value)
    assert "[redacted]" in str(caught.value)


def test_a_key_at_the_cut_of_a_long_error_leaves_no_prefix(httpserver: HTTPServer) -> None:
    key = "sk-" + "k" * 40
    echoed = "x" * 180 + " " + key  # the key straddles the 200th character
    httpserver.expect_request("/conversations/5/reply").respond_with_json(
        {"meta": {"status": 401, "error": "Unauthorized", "error_message": echoed}}, status=401
    )
    with pytest.raises(ApiFailure) as caught:
        DashlyClient(httpserver.url_for("/"), key, "default_admin").reply("5", "x", 1)
    assert "sk-kkk" not in str(caught.value)


class _RawApi:
    """An HTTP/1.1 server on loopback, one thread, that answers each request with `answer`
    (raw bytes) and keeps the connection open unless `hang_up`; counts both."""

    def __init__(self, answer: bytes, hang_up: bool = False) -> None:
        self.answer, self.hang_up = answer, hang_up
        self.connections = self.requests = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # the test closed the listener
            self.connections += 1
            with connection:
                self._answer_each_request(connection)

    def _answer_each_request(self, connection: socket.socket) -> None:
        pending = b""
        while chunk := connection.recv(65536):
            pending += chunk
            while b"\r\n\r\n" in pending:
                head, _, rest = pending.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                if len(rest) < (size := int(length.group(1)) if length else 0):
                    break  # the body is still coming
                pending = rest[size:]
                self.requests += 1
                connection.sendall(self.answer)
                if self.hang_up:
                    return


def test_replies_share_one_kept_alive_connection() -> None:
    body = b'{"meta": {"status": 200}, "data": {}}'
    api = _RawApi(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    client = DashlyClient(api.url, "key", "default_admin")
    for number in range(3):
        client.reply("5", "hello", number)
    api.listener.close()
    assert (api.requests, api.connections) == (3, 1)


def test_an_answer_cut_short_is_a_retryable_failure() -> None:
    api = _RawApi(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"meta"', hang_up=True)
    with pytest.raises(ApiFailure) as caught:
        DashlyClient(api.url, "key", "default_admin").reply("5", "x", 1)
    api.listener.close()
    assert caught.value.retryable
    assert str(caught.value) == "answer cut short calling /conversations/5/reply"
