"""/admin: what leads ask that no rule answers, which rules fire, what failed to deliver.

HTTP Basic auth with ADMIN_PASSWORD (unset: the page does not exist), a CSRF token on every
POST, lead text always escaped by the template.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound

from app.handling import DELIVERY_WINDOW_SECONDS
from app.insight import build_insights, draft_rules
from app.rules.explain import explain

log = logging.getLogger(__name__)
blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="pages")


class AdminRejected(Exception):
    """A request to /admin refused with `status` and a message for a person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def runtime() -> Any:
    return current_app.extensions["autoresponder"]


def csrf_token(password: str) -> str:
    """Derived from the password: the same in every worker, unknown to another site."""
    return hmac.new(hashlib.sha256(password.encode()).digest(), b"admin-csrf", "sha256").hexdigest()


@blueprint.before_request
def require_password() -> Response | None:
    password = runtime().settings.admin_password
    if not password:
        raise NotFound()
    auth = request.authorization
    given = auth.password if auth is not None and auth.type == "basic" else None
    if given is None or not hmac.compare_digest(given.encode(), password.encode()):
        # The attempt's value is never logged.
        log.warning("at=warning event=admin_auth_failed remote=%s", request.remote_addr)
        return Response(
            "Authentication required.",
            401,
            {"WWW-Authenticate": 'Basic realm="Dashly auto-responder", charset="UTF-8"'},
        )
    if request.method == "POST":
        sent = request.form.get("csrf", "")
        if not hmac.compare_digest(sent.encode(), csrf_token(password).encode()):
            raise AdminRejected(400, "missing or wrong CSRF token: reload the page and try again")
    return None


def page(**extra: Any) -> str:
    state = runtime()
    days = request.args.get("days", default=7, type=int) or 7
    days = min(max(days, 1), 365)
    report = build_insights(state.store, time.time(), days, state.settings.timezone)
    chart_max = max([a + u for _, a, u in report.daily] + [1])
    return render_template(
        "admin.html",
        report=report,
        chart_max=chart_max,
        rules=state.rules.current,
        rules_error=state.rules.error,
        dead=state.store.outbox(("dead",)),
        dry_run=state.settings.dry_run,
        csrf=csrf_token(state.settings.admin_password),
        **extra,
    )


@blueprint.get("")
def overview() -> str:
    sent = request.args.get("sent", type=int)
    return page(notice=f"Reply {sent} is queued to be sent again." if sent else None)


@blueprint.post("/try")
def try_message() -> str:
    text = request.form.get("text", "")[:2000]
    name = request.form.get("name", "")[:200] or None
    at = None
    when = request.form.get("at", "").strip()
    if when:
        try:
            local = datetime.strptime(when, "%Y-%m-%dT%H:%M")
        except ValueError:
            raise AdminRejected(400, "the time must look like 2026-11-28T12:00") from None
        at = local.replace(tzinfo=runtime().settings.timezone)
    result = explain(runtime().rules.current, text, at, name) if text.strip() else None
    return page(tried=text, tried_name=name or "", tried_at=when, result=result)


@blueprint.post("/draft")
def draft() -> str:
    chosen = set(request.form.getlist("group"))
    report = build_insights(runtime().store, time.time(), 365, runtime().settings.timezone)
    chosen_groups = [group for group in report.groups if group.example in chosen]
    taken = (rule.id for rule in runtime().rules.current.rules)
    return page(drafts=draft_rules(chosen_groups, taken))


@blueprint.post("/outbox/<int:item_id>/retry")
def send_again(item_id: int) -> Response:
    now = time.time()
    if not runtime().store.revive(item_id, now, now + DELIVERY_WINDOW_SECONDS):
        raise AdminRejected(404, f"no dead reply with id {item_id}")
    log.info("at=info event=admin_retry id=%d", item_id)
    runtime().wake_delivery()
    return redirect(url_for("admin.overview", sent=item_id), code=303)


@blueprint.errorhandler(AdminRejected)
def rejected(error: AdminRejected) -> tuple[dict[str, str], int]:
    return {"error": error.message}, error.status
