"""Dashly auto-responder: answers leads in Dashly chats from rules kept in TOML files."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.logs import configure_logging
from app.rules import RulesError, load_rules
from app.rules.live import LiveRules
from app.rules.warnings import thresholds_set_before_0_4
from app.runtime import Runtime, install_runtime
from app.settings import Settings, load_settings
from app.store import Store, StoreUnavailable
from app.web import admin, door, webhook

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The application factory; `config` overrides settings by their names (the README's
    configuration table).

    Besides those names, `START_BACKGROUND` (default true) says whether the first request may
    start delivery in this process (gunicorn starts it from its `post_worker_init` hook).
    """
    config = dict(config or {})
    start_background = bool(config.pop("START_BACKGROUND", True))
    settings = load_settings(config)
    looking_only = only_looked_at()
    configure_logging("WARNING" if looking_only else settings.log_level, settings.secrets)
    try:
        rules = load_rules(settings.rules_dir, settings.timezone, settings.match_min_similarity)
    except RulesError as error:
        for problem in error.problems:
            log.error("event=rules_invalid problem=%r", problem)
        raise
    if not looking_only:
        for line in thresholds_set_before_0_4(rules):  # their meaning changed in 0.4.0
            log.warning("event=threshold_meaning_changed message=%r", line)
    store = Store(settings.database_url, settings.database_pool_size)
    if not looking_only:
        try:
            store.migrate()
        except StoreUnavailable as error:
            # Start anyway: webhooks get 503 (Dashly retries them) and each worker keeps trying.
            log.error("component=store event=unavailable_at_start error=%r", str(error))
        store.close()  # the master's connections must not leak into forked workers

    runtime = Runtime(
        settings=settings,
        rules=LiveRules(settings.rules_dir, settings.timezone, rules),
        store=store,
    )
    app = flask_app(runtime)
    if start_background and not looking_only:
        app.before_request(runtime.start_background)
    if not looking_only:
        log_start(settings, len(rules), len(rules.files))
    return app


def flask_app(runtime: Runtime) -> Flask:
    """The Flask app around `runtime`: its pages, its error answers and the proxy in front."""
    app = Flask(__name__)
    # Heroku's router, the one proxy in front of a dyno, appends the client's address to
    # X-Forwarded-For and says in X-Forwarded-Proto what the browser used: trust one entry of
    # each, the last (the ones before it are whatever the client wrote).
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    install_runtime(app, runtime)
    door.install(app)
    app.register_blueprint(webhook.blueprint)
    app.register_blueprint(admin.blueprint)
    webhook.register_error_handlers(app)
    return app


def only_looked_at() -> bool:
    """`flask --help`, `flask routes` and the like build the app only to look at it: they
    neither touch the database nor start anything, and say nothing unless it is wrong."""
    return os.environ.get("FLASK_RUN_FROM_CLI") == "true" and "run" not in sys.argv[1:]


def log_start(settings: Settings, rule_count: int, file_count: int) -> None:
    """Say at start, in plain words, what the service will do."""
    log.info(
        "event=start rules=%d files=%d rules_dir=%s store=%s",
        rule_count,
        file_count,
        settings.rules_dir,
        settings.database_url.split(":", 1)[0],
    )
    if settings.dry_run:
        log.warning(
            "event=dry_run message=%r",
            "DASHLY_API_TOKEN is not set: replies are logged and stored, not sent",
        )
    for name in settings.short_secrets:
        log.warning(
            "event=short_secret name=%s message=%r",
            name,
            "shorter than 16 characters: easy to guess, and too short to be masked in every "
            "log line; use a long random value (openssl rand -hex 24)"
            + ("; /admin stays closed until it is" if name == "ADMIN_PASSWORD" else ""),
        )
    if not settings.store_is_durable:
        log.warning(
            "event=store_not_durable message=%r",
            "SQLite on a dyno: its disk is wiped at every restart and deploy, taking pending "
            "replies and the duplicate check with it. Attach PostgreSQL (DATABASE_URL).",
        )
    if settings.refuses_every_webhook:
        log.warning(
            "event=no_webhook_token message=%r",
            "DASHLY_WEBHOOK_TOKEN is not set: every webhook is refused with 401",
        )
    elif settings.webhook_token is None:
        # A development token is no secret: printing it is the point (docs/contract.md, set-up:
        # make run).
        print(
            f"Development webhook token: {settings.dev_webhook_token} (accepted from this "
            "machine only, until DASHLY_WEBHOOK_TOKEN is set)",
            flush=True,
        )
