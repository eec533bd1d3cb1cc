"""End to end: the real Procfile command (gunicorn, 2 workers) and Dashly's API on loopback."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import (
    API_PATH,
    API_TOKEN,
    WEBHOOK_TOKEN,
    api_calls,
    lead_part,
    load_part,
    wait_for,
)
from tests.conftest import webhook_form as form
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
    part = lead_part("Hello, how are you", part_id=random.randrange(10**9), conversation=777)
    assert service.post(form(part)).json() == {"status": "replied"}
    [request] = wait_for(lambda: api_calls(dashly_api))
    fields = parse_qs(request.get_data(as_text=True))
    assert request.path == "/conversations/777/reply"
    assert request.headers["Authorization"] == f"Token {API_TOKEN}"
    assert fields["body"] == ["Hi! How can I help you today?"]
    assert fields["from_admin"] == ["4242"]
    assert WEBHOOK_TOKEN not in service.log() and API_TOKEN not in service.log()


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
    return [request for request, response in api.log if response.status_code == 200]


def test_a_pending_reply_survives_kill_9_and_is_sent_once_after_restart(
    start_service: Callable[..., Service], httpserver: HTTPServer, tmp_path: Path
) -> None:
    api_is_down = threading.Event()
    api_is_down.set()

    def api(request: Request) -> Response:
        status = 500 if api_is_down.is_set() else 200
        return Response(f'{{"meta": {{"status": {status}}}}}', status=status)

    httpserver.expect_request(API_PATH).respond_with_handler(api)
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
