"""/admin: what leads ask that no rule answers, which rules fire, what failed to deliver.

Behind the admin door (`door`: password, throttling, CSRF, HTTPS, headers); lead text always
escaped by the template.
"""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from app.handling import DELIVERY_WINDOW_SECONDS
from app.insight import build_insights, draft_rules
from app.insight.replay import replay, with_draft
from app.rules import RulesError
from app.rules.explain import explain
from app.rules.matching import RuleSet
from app.rules.warnings import rule_warnings
from app.runtime import current_runtime
from app.store import OutboxStatus
from app.web import door

log = logging.getLogger(__name__)
# How long the page's figures are reused before they are worked out again.
REPORT_SECONDS = 15.0
# A draft replay stops after this long, under the 30 s a Heroku router waits for an answer
# (a draft's slow pattern or template could otherwise keep a worker busy for minutes).
REPLAY_SECONDS = 10.0
# A draft is tried on the page against the latest this many stored messages of the last week.
REPLAY_SAMPLE = 2000
# The latest cancelled replies (and refused properties) the page lists.
CANCELLED_SHOWN = 20
blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="pages")
blueprint.before_request(door.guard)
blueprint.after_request(door.add_headers)


class AdminRejected(Exception):
    """A request to /admin refused with `status` and a message for a person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def page(**extra: Any) -> str:
    state = current_runtime()
    days = request.args.get("days", default=7, type=int) or 7
    days = min(max(days, 1), 365)
    report, computed_at = cached_report(days)
    chart_max = max([a + u for _, a, u in report.daily] + [1])
    return render_template(
        "admin.html",
        report=report,
        chart_max=chart_max,
        replay_seconds=REPLAY_SECONDS,
        rules=state.rules.current,
        rules_error=state.rules.error,
        rule_warnings=warnings_of(state.rules.current),
        dead=state.store.outbox((OutboxStatus.DEAD,)),
        cancelled=state.store.outbox((OutboxStatus.CANCELLED,))[-CANCELLED_SHOWN:],
        not_saved=state.store.not_saved(CANCELLED_SHOWN),
        failed_steps=state.store.failed_steps(CANCELLED_SHOWN),
        dry_run=state.settings.dry_run,
        durable=state.settings.store_is_durable,
        computed_at=datetime.fromtimestamp(computed_at, state.settings.timezone),
        **extra,
    )


def warnings_of(rules: RuleSet) -> list[str]:
    """What `flask rules check` warns of the rules in force, worked out once per rule set
    (a reload makes a new one), with paths as the rules folder names them."""
    cache = current_app.extensions.setdefault("rule-warnings", {})
    if cache.get("rules") is not rules:
        folder = f"{current_runtime().rules.directory}/"
        cache.update(rules=rules, warnings=[w.replace(folder, "") for w in rule_warnings(rules)])
    return cache["warnings"]


def cached_report(days: int) -> tuple[Any, float]:
    """The figures for `days`, worked out at most once per REPORT_SECONDS in this process: a
    busy account's grouping is not redone on every page view."""
    cache = current_app.extensions.setdefault("insight-report", {})
    now = time.time()
    if days in cache and now - cache[days][1] < REPORT_SECONDS:
        return cache[days]
    state = current_runtime()
    report = build_insights(state.store, now, days, state.settings.timezone, state.rules.current)
    cache[days] = (report, now)
    return cache[days]


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
        at = local.replace(tzinfo=current_runtime().settings.timezone)
    result = explain(current_runtime().rules.current, text, at, name) if text.strip() else None
    return page(tried=text, tried_name=name or "", tried_at=when, result=result)


@blueprint.post("/draft")
def draft() -> str:
    chosen = set(request.form.getlist("group"))
    report, _ = cached_report(365)
    chosen_groups = [group for group in report.groups if group.example in chosen]
    taken = (rule.id for rule in current_runtime().rules.current.rules)
    return page(drafts=draft_rules(chosen_groups, taken))


@blueprint.post("/replay")
def replay_draft() -> str:
    """The current rules plus a pasted draft, over a sample of the stored messages: what the
    draft would change (the whole history: `flask rules replay`)."""
    text = request.form.get("draft", "")[:50_000]
    state = current_runtime()
    # Reading and training the draft count against the deadline too.
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "draft.toml").write_text(text, encoding="utf-8")
        try:
            rules = with_draft(state.rules.current, Path(folder))
        except RulesError as error:
            problems = [p.replace(f"{folder}/", "") for p in error.problems]
            return page(replay_text=text, replay_problems=problems)
    messages = state.store.stored_messages(time.time() - 7 * 86400)[-REPLAY_SAMPLE:]
    left = max(REPLAY_SECONDS - (time.monotonic() - started), 0.0)
    return page(replay_text=text, replayed=replay(rules, messages, seconds=left))


@blueprint.post("/outbox/<int:item_id>/retry")
def send_again(item_id: int) -> Response:
    now = time.time()
    if not 0 < item_id < 2**63 or not current_runtime().store.revive(
        item_id, now, now + DELIVERY_WINDOW_SECONDS
    ):
        raise AdminRejected(404, f"no dead reply with id {item_id}")
    log.info("event=admin_retry id=%d", item_id)
    current_runtime().wake_delivery()
    return redirect(url_for("admin.overview", sent=item_id), code=303)


@blueprint.errorhandler(AdminRejected)
def rejected(error: AdminRejected) -> tuple[dict[str, str], int]:
    return {"error": error.message}, error.status
