"""End to end: the real Procfile command (gunicorn, 2 workers) and Dashly's API on loopback."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer

from tests.conftest import API_TOKEN, WEBHOOK_TOKEN, api_calls, lead_part, load_part, wait_for
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
