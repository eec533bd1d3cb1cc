"""Fixtures: apps built by the real factory on a real SQLite file (or PostgreSQL), with
pytest-httpserver standing in for Dashly's API on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer

from app import create_app
from app.runtime import runtime_of
from tests.fakes.dashly import (
    API_PATH,
    DASHLY_OK,
    LEAD_NAME,
    PARTS_PATH,
    USER_PATH,
    documented_api,
    form_of,
)

__all__ = [
    "API_PATH",
    "DASHLY_OK",
    "LEAD_NAME",
    "PARTS_PATH",
    "USER_PATH",
    "documented_api",
    "form_of",
]

ROOT = Path(__file__).resolve().parent.parent
PARTS = Path(__file__).resolve().parent / "parts"
# The example rules as shipped in rules/, kept here so that an owner who edits rules/ (as the
# README says to) changes no test result.
EXAMPLE_RULES = Path(__file__).resolve().parent / "example_rules"

# Nor does an owner's `.env` (or `.flaskenv`): Flask's own switch, which the settings honour
# too, inherited by every command a test starts. `flask` then finds the app by this name.
os.environ["FLASK_SKIP_DOTENV"] = "1"
os.environ["FLASK_APP"] = "app"
WEBHOOK_TOKEN = "test-webhook-token-0123456789"
API_TOKEN = "test-api-key-abcdef"


def load_part(name: str, **changes: Any) -> dict[str, Any]:
    """A real payload shape from tests/parts (copied from Dashly's documentation)."""
    part = json.loads((PARTS / f"{name}.json").read_text(encoding="utf-8"))
    part.update(changes)
    return part


def lead_part(body: str, part_id: int | str = 1001, conversation: int | str = 501) -> dict:
    return load_part("reply_user", id=part_id, conversation=conversation, body=body)


def webhook_form(part: dict[str, Any] | str, token: str = WEBHOOK_TOKEN) -> dict[str, str]:
    """The form Dashly posts: conversation (JSON text), type and token."""
    conversation = part if isinstance(part, str) else json.dumps(part, ensure_ascii=False)
    return {"conversation": conversation, "type": "conversation", "token": token}


def wait_for(condition: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll until `condition()` is truthy; fail the test with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def write_rules(directory: Path, text: str, name: str = "rules.toml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def answering_rule(folder: Path, rules: str, message: str) -> str | None:
    """The id of the rule that answers `message` with `rules` written into `folder`."""
    write_rules(folder, rules)
    from app.rules import load_rules  # here: most tests never load rules themselves

    found = load_rules(folder).match(message)
    return found.rule.id if found is not None else None


def postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every store-backed test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite3'}"
    return fresh_postgres()


@pytest.fixture
def postgres_database() -> str:
    """An empty PostgreSQL database, for scenarios that are about PostgreSQL."""
    return fresh_postgres()


def fresh_postgres() -> str:
    url = postgres_url()
    if url is None:
        if os.environ.get("CI"):
            pytest.fail("CI must set TEST_DATABASE_URL (.ci/run starts PostgreSQL)")
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (`.ci/run` starts a server)")
    reset_postgres(url)
    return url


def reset_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


@pytest.fixture
def own_postgres() -> Iterator[Callable[..., Any]]:
    """Servers of the test's own; every one is stopped and removed afterwards."""
    from tests.postgres_server import PostgresServer  # it imports this module

    made: list[PostgresServer] = []

    def make(max_connections: int = 100) -> PostgresServer:
        # Not under pytest's tmp_path: its folders are closed to the postgres user.
        server = PostgresServer(Path(tempfile.mkdtemp(prefix="test-pg-")), max_connections)
        made.append(server)
        return server

    yield make
    for server in made:
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.sqlite3'}"


@pytest.fixture
def dashly_api(httpserver: HTTPServer) -> HTTPServer:
    """Dashly's Web API on loopback, as documented (see documented_api)."""
    return documented_api(httpserver)


def api_calls(server: HTTPServer, suffix: str = "/reply") -> list[Any]:
    """The requests the stand-in received whose path ends with `suffix`."""
    return [request for request, _ in server.log if request.path.endswith(suffix)]


@pytest.fixture
def make_app(tmp_path: Path, sqlite_url: str) -> Iterator[Callable[..., Flask]]:
    """Build apps with the real factory; every delivery thread is stopped afterwards."""
    built: list[Flask] = []

    def build(**config: Any) -> Flask:
        settings = {
            "DASHLY_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "DASHLY_API_TOKEN": "",
            "DASHLY_API_URL": "http://127.0.0.1:9",
            "DATABASE_URL": sqlite_url,
            "RULES_DIR": str(EXAMPLE_RULES),
            "QUIET_AFTER_OPERATOR_MINUTES": "60",
        }
        settings.update(config)
        app = create_app(settings)
        app.config["TESTING"] = True
        built.append(app)
        return app

    yield build
    for app in built:
        runtime_of(app).stop_background(drain_seconds=0)
        runtime_of(app).store.close()


@pytest.fixture
def app(make_app: Callable[..., Flask], dashly_api: HTTPServer) -> Flask:
    return make_app(DASHLY_API_TOKEN=API_TOKEN, DASHLY_API_URL=dashly_api.url_for("/"))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A real gunicorn process takes seconds to start and stop: `make test-quick` (pytest -m
    "not slow") leaves those tests out with the rest marked slow; `make test` runs all."""
    for item in items:
        if item.get_closest_marker("gunicorn"):
            item.add_marker(pytest.mark.slow)
