"""What the tests share besides fixtures: the project's paths, real payloads from tests/parts,
the webhook's form, polling, rule files, PostgreSQL for a test, and Dashly's stand-in (from
tests/fakes)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.fakes.dashly import (
    API_PATH,
    DASHLY_OK,
    LEAD_NAME,
    PARTS_PATH,
    REPLY_PATH,
    TAG_PATH,
    USER_PATH,
    documented_api,
    form_of,
)

__all__ = [
    "API_PATH",
    "DASHLY_OK",
    "LEAD_NAME",
    "PARTS_PATH",
    "REPLY_PATH",
    "TAG_PATH",
    "USER_PATH",
    "documented_api",
    "form_of",
]

ROOT = Path(__file__).resolve().parent.parent
PARTS = Path(__file__).resolve().parent / "parts"
# The example rules as shipped in rules/, kept here so that an owner who edits rules/ (as the
# README says to) changes no test result.
EXAMPLE_RULES = Path(__file__).resolve().parent / "example_rules"
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


def api_calls(server: HTTPServer, suffix: str = "/reply") -> list[Any]:
    """The requests the stand-in received whose path ends with `suffix`."""
    return [request for request, _ in server.log if request.path.endswith(suffix)]
