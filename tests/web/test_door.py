"""The admin door: throttled guessing keyed on the address Heroku's router appends, a minimum
password length, CSRF tokens from a server secret, HTTPS, and the page's headers."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.test_admin import AUTH, PASSWORD, basic

WRONG = basic("not the password at all")


@pytest.fixture
def door(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(ADMIN_PASSWORD=PASSWORD).test_client()


def forwarded(*addresses: str) -> dict[str, str]:
    return {"X-Forwarded-For": ", ".join(addresses)}


def test_password_guessing_is_throttled_per_client_by_the_routers_address(
    door: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # The caller writes the leftmost entries; the router appends the real address last.
    for number in range(10):
        spoofed = forwarded(f"10.0.0.{number}", "203.0.113.7")
        assert door.get("/admin", headers={**WRONG, **spoofed}).status_code == 401
    blocked = door.get("/admin", headers={**AUTH, **forwarded("10.9.9.9", "203.0.113.7")})
    assert blocked.status_code == 429  # even the right password, until the minute is over
    other = door.get("/admin", headers={**AUTH, **forwarded("203.0.113.8")})
    assert other.status_code == 200
    assert "client=203.0.113.7" in capsys.readouterr().err


def test_guessing_from_many_addresses_is_throttled_overall(door: FlaskClient) -> None:
    statuses = [
        door.get("/admin", headers={**WRONG, **forwarded(f"198.51.100.{n}")}).status_code
        for n in range(101)
    ]
    assert statuses[:100] == [401] * 100 and statuses[100] == 429


def test_a_short_admin_password_keeps_the_page_closed(
    make_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_app(ADMIN_PASSWORD="short-pass").test_client()
    assert client.get("/admin", headers=basic("short-pass")).status_code == 404
    assert "ADMIN_PASSWORD" in capsys.readouterr().err
    assert client.get("/healthz").status_code == 200  # the bot keeps answering leads


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_csrf_tokens_are_bound_to_the_session_and_do_not_leak_the_password(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(ADMIN_PASSWORD=PASSWORD)
    first, second = app.test_client(), app.test_client()
    token = csrf_of(first.get("/admin", headers=AUTH).get_data(as_text=True))
    other = csrf_of(second.get("/admin", headers=AUTH).get_data(as_text=True))
    assert token != other  # not one token for everyone, forever
    ok = first.post("/admin/try", data={"text": "hello", "csrf_token": token}, headers=AUTH)
    assert ok.status_code == 200
    stolen = second.post("/admin/try", data={"text": "hello", "csrf_token": token}, headers=AUTH)
    assert stolen.status_code == 400


def test_a_post_from_another_site_is_refused(door: FlaskClient) -> None:
    token = csrf_of(door.get("/admin", headers=AUTH).get_data(as_text=True))
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = door.post(
            "/admin/try", data={"text": "hi", "csrf_token": token}, headers={**AUTH, **headers}
        )
        assert response.status_code == 403


def test_the_page_stays_out_of_frames_and_caches_and_on_https(door: FlaskClient) -> None:
    page = door.get("/admin", headers=AUTH)
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    plain = door.get("/admin?days=7", headers={**AUTH, "X-Forwarded-Proto": "http"})
    assert plain.status_code == 301
    assert plain.headers["Location"].startswith("https://")
    secure = door.get("/admin", headers=AUTH, base_url="https://bot.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    # The webhook is never redirected: Dashly would retry a redirected webhook forever.
    webhook = door.post("/webhooks/dashly", headers={"X-Forwarded-Proto": "http"})
    assert webhook.status_code != 301
