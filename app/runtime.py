"""The service's state in one process (settings, rules, store, handler, delivery) and the one
way to reach it from a request or a hook, as flaskr's `get_db()` reaches the database."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from flask import Flask, current_app

from app.dashly.client import DashlyClient
from app.delivery import Delivery
from app.handling import Handler
from app.rules.live import LiveRules
from app.settings import Settings
from app.store import OutboxStatus, Store, StoreUnavailable

log = logging.getLogger(__name__)

# The key of Flask's `app.extensions` the runtime is kept under.
EXTENSION = "autoresponder"


@dataclass
class Runtime:
    """Everything one app needs; the threads are started once per process, after the fork."""

    settings: Settings
    rules: LiveRules
    store: Store
    handler: Handler = field(init=False)
    delivery: Delivery | None = None
    _pid: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.handler = Handler(
            rules=self.rules,
            store=self.store,
            quiet_minutes=self.settings.quiet_after_operator_minutes,
            wake_delivery=self.wake_delivery,
            keep_texts=self.settings.insight_retention_days > 0,
            admin_id=self.settings.admin_id,
            typing_seconds=self.settings.typing_seconds,
            quiet_when_assigned=self.settings.quiet_when_assigned,
        )

    def wake_delivery(self) -> None:
        if self.delivery is not None:
            self.delivery.wake()

    def start_background(self) -> None:
        """Start delivery, the rules watcher and SQLite checkpoints in this process
        (idempotent). A thread or a session made before gunicorn forks would not survive the
        fork, so this runs after it."""
        if self._pid == os.getpid():
            return  # the common case, on every request: no lock needed
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stop = threading.Event()
            settings = self.settings
            client = None
            if not settings.dry_run:
                client = DashlyClient(settings.api_url, settings.api_token or "", settings.admin_id)
            self.delivery = Delivery(
                self.store,
                client,
                text_retention_seconds=settings.insight_retention_days * 86400,
                quiet_minutes=settings.quiet_after_operator_minutes,
            )
            self.delivery.start()
            for name, loop in (
                ("store-ready", self.store.keep_trying_to_migrate),
                ("rules-watch", self.rules.watch),
                ("store-checkpoint", self.store.keep_checkpointing),
            ):
                threading.Thread(target=loop, args=(self._stop,), name=name, daemon=True).start()

    def stop_background(self, drain_seconds: float) -> None:
        """Stop watching rules and checkpointing; let delivery send what is due for up to
        `drain_seconds`."""
        self._stop.set()
        if self.delivery is not None and self._pid == os.getpid():
            self.delivery.stop(drain_seconds)
            self._say_what_is_left()

    def _say_what_is_left(self) -> None:
        """On the way out, how many replies and calls wait for the next start (they are
        stored: the next worker sends them)."""
        try:
            counts = self.store.outbox_counts()
        except StoreUnavailable:
            return
        left = counts.get(OutboxStatus.PENDING, 0) + counts.get(OutboxStatus.SENDING, 0)
        if left:
            log.info("event=stopped_with_replies_left left=%d sent_at=next_start", left)


def install_runtime(app: Flask, runtime: Runtime) -> None:
    app.extensions[EXTENSION] = runtime


def runtime_of(app: Flask) -> Runtime:
    """The runtime `create_app` installed in `app`."""
    return app.extensions[EXTENSION]


def current_runtime() -> Runtime:
    """The runtime of the app handling the current request."""
    return runtime_of(current_app)
