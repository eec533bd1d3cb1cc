"""Fixtures: apps built by the real factory on a real SQLite file (or PostgreSQL), with
pytest-httpserver standing in for Dashly's API on loopback."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer

from app import create_app
from app.runtime import runtime_of
from tests.helpers import (
    API_TOKEN,
    EXAMPLE_RULES,
    WEBHOOK_TOKEN,
    documented_api,
    fresh_postgres,
)

# An owner's `.env` (or `.flaskenv`) changes no test result: Flask's own switch, which the
# settings honour too, inherited by every command a test starts. `flask` then finds the app by
# this name. (The example rules the tests read are a copy too: tests/helpers.py.)
os.environ["FLASK_SKIP_DOTENV"] = "1"
os.environ["FLASK_APP"] = "app"


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
