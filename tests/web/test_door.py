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
    # The owner, from an address of their own, still gets in with the right password.
    owner = door.get("/admin", headers={**AUTH, **forwarded("198.51.100.200")})
    assert owner.status_code == 200


def test_a_forged_forwarded_address_cannot_write_fields_or_lines_into_the_log(
    door: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = {"X-Forwarded-For": "1.2.3.4, 6.6.6.6 at=info event=admin_login_ok\x85x"}
    assert door.get("/admin", headers={**WRONG, **forged}).status_code == 401
    err = capsys.readouterr().err.splitlines()
    [line] = [entry for entry in err if "admin_auth_failed" in entry]
    assert 'client="6.6.6.6 at=info event=admin_login_ok\\x85x"' in line


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
    for proto in ("http", "HTTP"):
        plain = door.get(
            "/admin?days=7",
            headers={**AUTH, "X-Forwarded-Proto": proto, "Host": "evil.example"},
        )
        # Refused, not redirected: a redirect would send the browser to the Host it was given.
        assert plain.status_code == 403 and "Location" not in plain.headers
        assert "HTTPS only" in plain.get_data(as_text=True)
    secure = door.get("/admin", headers=AUTH, base_url="https://bot.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    fresh = door.application.test_client()  # no cookie yet: the page sets one
    routed = fresh.get("/admin", headers={**AUTH, "X-Forwarded-Proto": "https"})
    cookie = routed.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie
    # The webhook is never redirected: Dashly would retry a redirected webhook forever.
    webhook = door.post("/webhooks/dashly", headers={"X-Forwarded-Proto": "http"})
    assert webhook.status_code != 301


@pytest.mark.slow
def test_with_no_secret_key_and_the_database_down_the_page_says_503_without_a_traceback(
    make_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on port 1: every connection is refused at once.
    app = make_app(
        ADMIN_PASSWORD=PASSWORD,
        DATABASE_URL="postgresql://bot@127.0.0.1:1/bot",
        START_BACKGROUND=False,
    )
    response = app.test_client().get("/admin", headers=AUTH)
    assert response.status_code == 503
    assert response.json == {"error": "the state store is unreachable: try again in a minute"}
    assert "Traceback" not in capsys.readouterr().err
