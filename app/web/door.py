"""The admin door: who may open /admin and how. HTTP Basic with ADMIN_PASSWORD (16 characters or
more, or the page stays closed), failed attempts throttled per client and overall, CSRF tokens
from a server secret on every POST, HTTPS behind the platform's proxy, and headers that keep
the page out of frames and caches. The webhook is not behind this door."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Flask, Request, Response, current_app, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_wtf.csrf import CSRFProtect
from limits import parse, storage, strategies
from werkzeug.exceptions import Forbidden, NotFound, ServiceUnavailable, TooManyRequests

from app.runtime import current_runtime, runtime_of
from app.store import StoreUnavailable

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 16
# Failed logins allowed per client address, and from all clients together, per process.
PER_CLIENT = parse("10 per minute")
OVERALL = parse("100 per minute")
CSRF_TOKEN_SECONDS = 3600
HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Cache-Control": "no-store",  # the page shows what leads wrote
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make browsers send Origin: null
}


def client_address() -> str:
    """The caller's address, as `create_app`'s ProxyFix worked it out: the last
    X-Forwarded-For entry, the one Heroku's router appends (the ones before it are whatever the
    caller wrote), else the peer's."""
    return request.remote_addr or "unknown"


def install(app: Flask) -> None:
    """Set the door up for an app; the admin blueprint's own hooks call `guard` and
    `add_headers`. Each app gets its own throttle and CSRF state."""
    app.config.update(
        WTF_CSRF_TIME_LIMIT=CSRF_TOKEN_SECONDS,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by `guard`, after the password
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PATH="/admin",
    )
    app.session_interface = AdminSessions()
    CSRFProtect(app)  # checks only where `guard` asks it to: the webhook has no CSRF token
    # `limits` (Flask-Limiter's engine) used directly: only failed logins count, and nothing
    # runs for the webhook. Per process (memory): the limits allow for a few workers and dynos.
    app.extensions["door"] = strategies.MovingWindowRateLimiter(storage.MemoryStorage())


def guard() -> Any:
    """HTTPS, the password, the server secret, then, for a POST, where it came from and its
    CSRF token."""
    if "X-Forwarded-Proto" in request.headers and not request.is_secure:
        # The router says the browser used plain HTTP. No redirect: its address would come from
        # the Host header, which the caller writes.
        return Response("This page is served over HTTPS only: open it with https://\n", 403)
    runtime = current_runtime()
    password = runtime.settings.admin_password
    if not password or len(password) < MIN_PASSWORD_LENGTH:
        raise NotFound()  # closed: start-up said why
    throttle, client = current_app.extensions["door"], client_address()
    if not throttle.test(PER_CLIENT, "client", client):
        raise TooManyRequests("too many failed logins: wait a minute")
    auth = request.authorization
    given = auth.password if auth is not None and auth.type == "basic" else None
    if given is None or not hmac.compare_digest(
        given.encode("utf-8", "replace"), password.encode()
    ):
        # Other clients' failures refuse only a wrong password: the owner is never locked out.
        if not throttle.test(OVERALL, "everyone"):
            raise TooManyRequests("too many failed logins: wait a minute")
        throttle.hit(PER_CLIENT, "client", client)
        throttle.hit(OVERALL, "everyone")
        # The attempt's value is never logged.
        log.warning("event=admin_auth_failed client=%s", client)
        return Response(
            "Authentication required.",
            401,
            {"WWW-Authenticate": 'Basic realm="Dashly auto-responder", charset="UTF-8"'},
        )
    if not current_app.secret_key:
        raise ServiceUnavailable("the state store is unreachable: try again in a minute")
    if request.method == "POST":
        check_origin()
        current_app.extensions["csrf"].protect()
    return None


class AdminSessions(SecureCookieSessionInterface):
    """A session (it holds the CSRF token) for /admin only, signed with SECRET_KEY or, when that
    is unset, a key made once and kept in the state store, so every worker and dyno shares it.
    Webhooks get none: no cookie to read, no key to fetch."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """`Secure` whenever the page was asked for over HTTPS (behind Heroku's router, the
        connection to us is plain HTTP: the router says what the browser used)."""
        return request.is_secure

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if not request.path.startswith("/admin"):
            return self.null_session_class()
        if not app.secret_key:
            runtime = runtime_of(app)
            try:
                app.secret_key = runtime.settings.secret_key or runtime.store.shared_secret()
            except StoreUnavailable:
                # Opened before any error handler runs: `guard` answers 503 instead.
                return self.null_session_class()
        return super().open_session(app, request)


def check_origin() -> None:
    """A POST must come from this site's own page (browsers say where a request comes from)."""
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if (site is not None and site not in ("same-origin", "none")) or (
        origin is not None and origin.rstrip("/") != request.host_url.rstrip("/")
    ):
        raise Forbidden("a form of another site cannot post here")


def add_headers(response: Response) -> Response:
    response.headers.update(HEADERS)
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response
