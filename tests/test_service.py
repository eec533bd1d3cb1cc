"""End to end: the real Procfile command (gunicorn, 2 workers) and Dashly's API on loopback."""

from __future__ import annotations

import http.client
import json
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.helpers import (
    API_PATH,
    API_TOKEN,
    PARTS_PATH,
    WEBHOOK_TOKEN,
    api_calls,
    lead_part,
    load_part,
    wait_for,
    webhook_form,
)
from tests.helpers import webhook_form as form
from tests.running import Service

pytestmark = pytest.mark.gunicorn


def dashly_env(api: HTTPServer) -> dict[str, str]:
    """Nothing configured but the four DASHLY_* variables."""
    return {
        "DASHLY_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "DASHLY_API_TOKEN": API_TOKEN,
        "DASHLY_API_URL": api.url_for("/").rstrip("/"),
        "DASHLY_ADMIN_ID": "4242",
    }


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def start(env: dict[str, str], folder: Path | None = None) -> Service:
        service = Service.in_folder(folder or tmp_path / f"dyno{len(started)}", env).start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


def test_the_help_page_example_is_answered_through_the_procfile_service(
    start_service: Callable[..., Service], dashly_api: HTTPServer
) -> None:
    service = start_service(dashly_env(dashly_api))
    part = lead_part("Hello!", part_id=random.randrange(10**9), conversation=777)
    assert service.post(form(part)).json() == {"status": "replied"}
    [request] = wait_for(lambda: api_calls(dashly_api))
    fields = parse_qs(request.get_data(as_text=True))
    assert request.path == "/conversations/777/reply"
    assert request.headers["Authorization"] == f"Token {API_TOKEN}"
    assert fields["body"] == ["Hi Anna! How can I help you today?"]
    assert fields["from_admin"] == ["4242"]
    assert WEBHOOK_TOKEN not in service.log() and API_TOKEN not in service.log()


def test_an_example_question_is_answered_by_workers_sharing_the_model_loaded_before_the_fork(
    start_service: Callable[..., Service], dashly_api: HTTPServer
) -> None:
    service = start_service(dashly_env(dashly_api))
    parts = [
        lead_part(text, part_id=random.randrange(10**9), conversation=800 + number)
        for number, text in enumerate(["where is my parcel?", "где моя посылка?"] * 2)
    ]
    assert [service.post(form(part)).json()["status"] for part in parts] == ["replied"] * 4
    requests = wait_for(lambda: len(api_calls(dashly_api)) == 4 and api_calls(dashly_api))
    bodies = {parse_qs(r.get_data(as_text=True))["body"][0][:20] for r in requests}
    assert bodies == {"We ship within 1 bus", "Отправляем за 1 рабо"}
    # `tokenizers` warns (and disables itself) when its thread pool ran before a fork.
    assert "fork" not in service.log().lower()


def test_an_operator_message_is_not_answered(
    start_service: Callable[..., Service], dashly_api: HTTPServer
) -> None:
    service = start_service(dashly_env(dashly_api))
    operator = load_part("reply_admin", body="Hello! How are you?", conversation=778)
    assert service.post(form(operator)).json() == {"status": "ignored"}
    assert service.post(form(lead_part("hello", 91, 778))).json() == {"status": "ignored"}
    assert api_calls(dashly_api) == []


def test_eight_concurrent_copies_of_one_part_are_answered_once(
    start_service: Callable[..., Service], dashly_api: HTTPServer
) -> None:
    service = start_service(dashly_env(dashly_api))
    part = lead_part("how much is it?", part_id=random.randrange(10**9), conversation=779)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: service.post(form(part)).json()["status"], range(8)))
    assert sorted(statuses) == ["duplicate"] * 7 + ["replied"]
    wait_for(lambda: api_calls(dashly_api))
    service.stop()  # everything due is sent before the workers exit
    assert len(api_calls(dashly_api)) == 1


def test_broken_rules_stop_the_start_with_file_and_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "faq.toml").write_text('[[rule]]\nid = "x"\nphrases = ["a"]\nanswr = "b"\n')
    service = Service.in_folder(tmp_path / "dyno", {"DASHLY_WEBHOOK_TOKEN": "t"}, rules)
    with pytest.raises(AssertionError, match="exited at start"):
        service.start()
    assert "rules/faq.toml:4: rule 'x': unknown key 'answr' (did you mean 'answer'?)" in (
        service.log()
    )


def delivered(api: HTTPServer) -> list[Request]:
    return [
        request
        for request, response in api.log
        if response.status_code == 200 and request.path.endswith("/reply")
    ]


def test_a_pending_reply_survives_kill_9_and_is_sent_once_after_restart(
    start_service: Callable[..., Service], httpserver: HTTPServer, tmp_path: Path
) -> None:
    api_is_down = threading.Event()
    api_is_down.set()

    def api(request: Request) -> Response:
        status = 500 if api_is_down.is_set() else 200
        return Response(f'{{"meta": {{"status": {status}}}}}', status=status)

    httpserver.expect_request(API_PATH).respond_with_handler(api)
    # The 500s came before Dashly stored anything: its messages say so, and the reply goes.
    httpserver.expect_request(PARTS_PATH).respond_with_json({"meta": {"status": 200}, "data": []})
    folder = tmp_path / "dyno"  # the same folder, so the same default SQLite file, after restart
    first = start_service(dashly_env(httpserver), folder)
    part = lead_part("hello", part_id=random.randrange(10**9), conversation=780)
    assert first.post(form(part)).json() == {"status": "replied"}
    wait_for(lambda: "event=delivery_retry" in first.log())
    first.stop(signal.SIGKILL)

    api_is_down.clear()
    second = start_service(dashly_env(httpserver), folder)
    wait_for(lambda: delivered(httpserver), timeout=10)
    time.sleep(1.5)  # long enough for a second, wrong delivery to show up
    assert len(delivered(httpserver)) == 1
    assert second.post(form(part)).json() == {"status": "duplicate"}


def test_sigterm_sends_the_reply_in_flight_before_the_worker_exits(
    start_service: Callable[..., Service], httpserver: HTTPServer
) -> None:
    def slow_api(request: Request) -> Response:
        time.sleep(1.0)
        return Response('{"meta": {"status": 200}}', content_type="application/json")

    httpserver.expect_request(API_PATH).respond_with_handler(slow_api)
    service = start_service(dashly_env(httpserver))
    part = lead_part("hello", part_id=random.randrange(10**9), conversation=781)
    assert service.post(form(part)).json() == {"status": "replied"}
    service.stop(signal.SIGTERM)
    assert len(delivered(httpserver)) == 1


def test_sigterm_says_how_many_replies_wait_for_the_next_start(
    start_service: Callable[..., Service], httpserver: HTTPServer
) -> None:
    httpserver.expect_request(API_PATH).respond_with_json({"meta": {"status": 503}}, status=503)
    service = start_service(dashly_env(httpserver))
    part = lead_part("hello", part_id=random.randrange(10**9), conversation=782)
    assert service.post(form(part)).json() == {"status": "replied"}
    wait_for(lambda: httpserver.log)  # tried once, refused, retried later
    service.stop(signal.SIGTERM)
    assert "event=stopped_with_replies_left left=1 sent_at=next_start" in service.log()


@pytest.mark.postgres
def test_two_services_on_one_postgres_answer_a_part_once(
    start_service: Callable[..., Service], dashly_api: HTTPServer, postgres_database: str
) -> None:
    env = {**dashly_env(dashly_api), "DATABASE_URL": postgres_database}
    first, second = start_service(env), start_service(env)
    part = lead_part("how much is it?", part_id=random.randrange(10**9), conversation=782)
    services = [first, second] * 4
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda s: s.post(form(part)).json()["status"], services))
    assert sorted(statuses) == ["duplicate"] * 7 + ["replied"]
    wait_for(lambda: api_calls(dashly_api))
    first.stop()
    second.stop()
    assert len(api_calls(dashly_api)) == 1


def test_rule_edits_take_effect_in_every_worker_and_a_broken_edit_changes_nothing(
    start_service: Callable[..., Service], dashly_api: HTTPServer, tmp_path: Path
) -> None:
    rules = tmp_path / "dyno" / "rules"
    rules.mkdir(parents=True)
    (rules / "10-base.toml").write_text('[[rule]]\nid = "hi"\nphrases = ["hello"]\nanswer = "Hi"\n')
    service = start_service(dashly_env(dashly_api), tmp_path / "dyno")
    ids = iter(range(random.randrange(10**9), 10**10))

    def statuses(text: str) -> set[str]:
        # Eight new conversations, on fresh connections: both workers answer some of them.
        return {
            service.post(form(lead_part(text, next(ids), next(ids)))).json()["status"]
            for _ in range(8)
        }

    assert statuses("pineapple?") == {"no_match"}
    (rules / "20-fruit.toml").write_text(
        '[[rule]]\nid = "fruit"\nphrases = ["pineapple"]\nanswer = "We sell pineapples."\n'
    )
    wait_for(lambda: statuses("pineapple?") == {"replied"}, timeout=5)

    (rules / "20-fruit.toml").write_text('[[rule]]\nid = "fruit"\nphrases = ["pineapple"\n')
    wait_for(lambda: service_health(service).get("rules_error"), timeout=5)
    # /healthz is public: it says only that the rules have an error; the log says where.
    assert "20-fruit.toml" not in json.dumps(service_health(service))
    assert statuses("pineapple?") == {"replied"}  # the last good rules keep answering
    assert "event=rules_reload_failed" in service.log()
    assert "20-fruit.toml:3: TOML syntax" in service.log()

    (rules / "20-fruit.toml").unlink()
    wait_for(lambda: statuses("pineapple?") == {"no_match"}, timeout=5)
    assert "rules_error" not in service_health(service)


def service_health(service: Service) -> dict:
    import requests

    return requests.get(service.url + "/healthz", timeout=5).json()


def test_a_runaway_pattern_is_cut_off_and_the_webhook_still_answers(
    start_service: Callable[..., Service], dashly_api: HTTPServer, tmp_path: Path
) -> None:
    rules = tmp_path / "dyno" / "rules"
    rules.mkdir(parents=True)
    (rules / "r.toml").write_text(
        '[[rule]]\nid = "runaway"\npatterns = [\'(x+x+)+y\']\nanswer = "never"\n'
    )
    service = start_service(dashly_env(dashly_api), tmp_path / "dyno")
    # Unbounded, this search takes hours: the post's own 10 s limit would fail the test.
    response = service.post(form(lead_part("x" * 5000, random.randrange(10**9), 783)))
    assert response.json() == {"status": "no_match"}
    wait_for(lambda: "event=pattern_timeout rule=runaway" in service.log())


def test_a_chunked_body_over_the_limit_is_refused_with_413(
    start_service: Callable[..., Service], dashly_api: HTTPServer
) -> None:
    service = start_service({**dashly_env(dashly_api), "MAX_BODY_BYTES": "2048"})
    form = webhook_form(lead_part("hello " * 1000, 9901, 9901))
    body = "&".join(f"{k}={v}" for k, v in form.items()).encode()

    def chunks():  # no Content-Length: sent with Transfer-Encoding: chunked
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    response = requests.post(
        service.url + "/webhooks/dashly",
        data=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code == 413
    assert "larger than 2048 bytes" in response.json()["error"]
    small = webhook_form(lead_part("hello", 9902, 9902))
    small_body = "&".join(f"{k}={requests.utils.quote(v)}" for k, v in small.items()).encode()
    accepted = requests.post(
        service.url + "/webhooks/dashly",
        data=iter([small_body]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert accepted.json() == {"status": "replied"}  # a chunked body under the limit is read whole


def test_no_worker_hoards_idle_keep_alive_connections(
    start_service: Callable[..., Service], dashly_api: HTTPServer
) -> None:
    """gunicorn.conf.py's worker keeps at most `threads` (4) idle keep-alive connections: one
    more is answered with `Connection: close`, so the next one can go to the other worker.
    Ten connections kept open over two workers: one of them holds five or more."""
    service = start_service(dashly_env(dashly_api))
    connections = [
        http.client.HTTPConnection("127.0.0.1", service.port, timeout=5) for _ in range(10)
    ]
    closing = 0
    try:
        for connection in connections:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            closing += response.getheader("Connection", "").lower() == "close"
    finally:
        for connection in connections:
            connection.close()
    assert closing >= 1


def read_until_closed(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(4096):
        received += chunk
    return received


def test_clients_that_stop_mid_request_are_cut_and_webhooks_still_answered(
    start_service: Callable[..., Service], dashly_api: HTTPServer
) -> None:
    """Eight connections that send headers and part of a body (every request thread of both
    workers) are cut at gunicorn.conf.py's read deadline: each is answered 400, what arrived
    is not taken for the message, and the webhook waiting behind them is answered. Without the
    deadline they held the threads for as long as they stayed connected."""
    service = start_service(dashly_env(dashly_api))
    partial_body = b"token=" + WEBHOOK_TOKEN.encode()
    stalled = []
    for _ in range(8):
        connection = socket.create_connection(("127.0.0.1", service.port), timeout=20)
        connection.sendall(
            b"POST /webhooks/dashly HTTP/1.1\r\nHost: bot\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
            + partial_body
        )
        stalled.append(connection)
    try:
        part = lead_part("Hello!", part_id=random.randrange(10**9), conversation=9960)
        assert service.post(form(part)).json() == {"status": "replied"}
        for connection in stalled:
            head, _, body = read_until_closed(connection).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400 ")
            assert json.loads(body) == {
                "error": f"the body ended after {len(partial_body)} of its 1000 bytes"
            }
    finally:
        for connection in stalled:
            connection.close()
    wait_for(lambda: api_calls(dashly_api))
    assert len(api_calls(dashly_api)) == 1  # the partial bodies sent nothing
