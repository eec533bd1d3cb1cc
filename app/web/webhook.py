"""HTTP only: size, token, parsing, and the JSON answer. Knows nothing of rules or SQL."""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import time
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from app.dashly.parts import PartError, decode_conversation, parse_part
from app.logs import Trouble
from app.runtime import current_runtime
from app.store import FailureKind, StoreUnavailable

log = logging.getLogger(__name__)
blueprint = Blueprint("webhook", __name__)
# Webhooks refused because the store is down: one log line per interval, not one per webhook.
store_trouble = Trouble("webhook")

FORM = "application/x-www-form-urlencoded"
# A reply that died this recently makes /healthz say "degraded".
DEAD_REPLY_WINDOW_SECONDS = 3600


class Rejected(Exception):
    """A request refused with `status` and a message for a person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status


def read_fields() -> dict[str, Any]:
    """The webhook's fields from a form (Dashly's format) or a JSON body (proxies, tools)."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise Rejected(413, f"the body is larger than {limit} bytes")
    if request.content_length is None:
        # A chunked body has no length to check first; reading one byte past the limit tells.
        # Read from the server's own input: Werkzeug's stream stops at the limit without a
        # word, and what is left would be parsed as if it were the whole body.
        body = request.environ["wsgi.input"].read(limit + 1)
        if len(body) > limit:
            raise Rejected(413, f"the body is larger than {limit} bytes")
        request._cached_data = body  # what get_data and form parsing then read
    elif len(body := request.get_data()) < request.content_length:
        # The client stopped sending (the server cut it at its read deadline, or it hung up):
        # what did arrive is not the message, and its first fields must not pass for it.
        raise Rejected(
            400, f"the body ended after {len(body)} of its {request.content_length} bytes"
        )
    mimetype = request.mimetype
    if mimetype == FORM:
        fields = form_fields(request.get_data())
        if "token" in fields or "conversation" in fields:
            return fields
    elif mimetype == "multipart/form-data":
        return request.form.to_dict()  # the first value of each field
    elif mimetype == "application/json" or mimetype.endswith("+json"):
        try:
            data = request.get_json(silent=True)
        except RecursionError:
            raise Rejected(400, "the JSON body is nested too deeply") from None
        if not isinstance(data, dict):
            raise Rejected(400, "the body is not a JSON object")
        return data
    return fields_whatever_the_type(request.get_data())


def fields_whatever_the_type(body: bytes) -> dict[str, Any]:
    """A body whose Content-Type is missing, unknown or misspelt (a Russian copy of Dashly's
    help page prints `application/x-www-from-urlencoded`): a JSON object if it parses as one,
    else a form; 415 when neither reading finds `token` or `conversation`."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and ("token" in data or "conversation" in data):
        return data
    try:
        fields = form_fields(body)
    except Rejected:
        fields = {}
    if "token" in fields or "conversation" in fields:
        return fields
    raise Rejected(
        415,
        "send application/x-www-form-urlencoded (as Dashly does) or application/json "
        "with 'token' and 'conversation'",
    )


def form_fields(body: bytes) -> dict[str, str]:
    """The first value of each field of a url-encoded body (Dashly's format). Werkzeug's form
    parser reads it the same way, with `parse_qsl` over the UTF-8 text; doing it here skips its
    stream and MultiDict layers, 5 % of a webhook's instructions (docs/performance.md), and
    says what is wrong with a body that is not UTF-8 (Werkzeug's answer is an empty form)."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise Rejected(400, "the form is not UTF-8 text") from None
    fields: dict[str, str] = {}
    # Escapes of bytes that are not UTF-8 (%ff) become U+FFFD, as a browser decodes them.
    for name, value in parse_qsl(text, keep_blank_values=True, errors="replace"):
        fields.setdefault(name, value)
    return fields


def check_token(given: Any) -> None:
    """Constant-time comparison with DASHLY_WEBHOOK_TOKEN, before anything else is parsed."""
    settings = current_runtime().settings
    expected = settings.webhook_token
    if expected is None:
        expected = settings.dev_webhook_token if from_loopback() else None
    if expected is None:
        # Why is for the owner's log, not for whoever knocks.
        log.warning(
            "event=webhook_refused reason=%r",
            "DASHLY_WEBHOOK_TOKEN is not set on the server",
        )
        raise Rejected(401, "wrong or missing token")
    if not isinstance(given, str) or not given:
        raise Rejected(401, "missing token")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode()):
        raise Rejected(401, "wrong token")


def from_loopback() -> bool:
    """A request from this machine, not relayed by a proxy and not sent by a web page (the
    development token's only door). A browser names the page's origin (`Origin`) on a
    cross-site POST and says where it comes from (`Sec-Fetch-Site`); Dashly and curl say
    neither. Without this, any page open in the developer's browser could post to the
    public development token."""
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
    from_a_page = "Origin" in request.headers or request.headers.get(
        "Sec-Fetch-Site", "none"
    ) not in ("none", "same-origin")
    return loopback and "X-Forwarded-For" not in request.headers and not from_a_page


@blueprint.post("/webhooks/dashly")
def receive_webhook() -> Any:
    started = time.perf_counter()
    fields = read_fields()
    check_token(fields.get("token"))
    if "token" in request.args:
        # Never read from the URL, where router and access logs keep it.
        log.warning(
            "event=token_in_url message=%r",
            "take the token out of the webhook URL: it is read from the body only",
        )
    if fields.get("conversation") in (None, ""):
        raise Rejected(400, "missing 'conversation'")
    try:
        part = parse_part(decode_conversation(fields["conversation"]))
    except PartError as error:
        raise Rejected(400, str(error)) from None
    runtime = current_runtime()
    if not runtime.store.ready.is_set():
        raise StoreUnavailable("the state store is not ready yet")
    decision = runtime.handler.handle(part)
    store_trouble.recovered()
    log.info(
        "event=webhook part=%s conversation=%s type=%r status=%s rule=%s reason=%r ms=%.1f",
        part.id,
        part.conversation,
        part.type,
        decision.status,
        decision.rule_id or "-",
        decision.reason,
        (time.perf_counter() - started) * 1000,
    )
    return _status_response(decision.status)


@lru_cache(maxsize=8)
def _status_body(status: str) -> bytes:
    return json.dumps({"status": status}, separators=(",", ":")).encode()  # as jsonify writes it


def _status_response(status: str) -> Response:
    """`{"status": ...}`, serialised once per status: the answer to every webhook."""
    return current_app.response_class(_status_body(status), mimetype="application/json")


@blueprint.get("/healthz")
def healthz() -> Any:
    """Public, so it says only fixed words; the details are in the log and on /admin."""
    runtime = current_runtime()
    body: dict[str, Any] = {
        "status": "ok",
        "rules": len(runtime.rules.current),
        "dry_run": runtime.settings.dry_run,
    }
    if not runtime.settings.store_is_durable:
        body["durable"] = False
    if runtime.rules.error:
        body["rules_error"] = True
    store = runtime.store
    try:
        if not store.ready.is_set():
            raise StoreUnavailable("the state store is not ready yet")
        store.ping()
        if store.writes_failing():
            return {**body, "status": "unavailable", "store": "write_failed"}, 503
        died = store.last_dead_since(time.time() - DEAD_REPLY_WINDOW_SECONDS)
    except StoreUnavailable:
        return {**body, "status": "unavailable", "store": "unreachable"}, 503
    if runtime.settings.refuses_every_webhook:
        # Every webhook gets 401: up, but answering nobody.
        return {**body, "status": "degraded", "reason": "no_webhook_token"}
    if died is not None:
        # Webhooks are still accepted (200), but an uptime monitor sees the bot has gone quiet.
        rejected = died == FailureKind.KEY_REJECTED
        body.update(status="degraded", reason="api_key_rejected" if rejected else "replies_dying")
    return body


def register_error_handlers(app: Flask) -> None:
    """Every error is JSON with a message for a person; bad input is never a 5xx."""

    @app.errorhandler(Rejected)
    def rejected(error: Rejected) -> Any:
        log.info("event=webhook_rejected status=%d error=%r", error.status, error.message)
        return error_response(error.status, error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        messages = {
            404: "no such endpoint",
            405: f"method {request.method} is not allowed here",
            413: f"the body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes",
        }
        status = error.code or 500
        response = error_response(status, messages.get(status, error.description or "error"))
        if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response[0].headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        if isinstance(error, StoreUnavailable):
            store_trouble.failed(str(error))
            # 503: Dashly retries the webhook later, and the part was not recorded.
            return error_response(503, "the state store is unavailable; try again later")
        log.exception("event=unhandled")
        return error_response(500, "internal error")
