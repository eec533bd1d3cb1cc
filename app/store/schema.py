"""The schema and its migrations: each entry upgrades it by one version."""

from __future__ import annotations

import logging
import secrets
import threading
import zlib

from app.logs import Trouble
from app.store.database import Database
from app.store.errors import StoreUnavailable

log = logging.getLogger(__name__)

# Waiting for another process's migration (the advisory lock) may take longer than a webhook's
# transaction may.
MIGRATE_SECONDS = 30.0
# While the database cannot be reached at start, workers try again after these waits: short,
# since a try against a server that is down costs one refused connection, and every worker
# should serve within seconds of the server coming back.
RETRY_FIRST_SECONDS = 0.25
RETRY_MAX_SECONDS = 1.0

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE handled_parts (
            part_id TEXT PRIMARY KEY,
            conversation TEXT NOT NULL,
            handled_at {REAL} NOT NULL)""",
        "CREATE INDEX handled_parts_age ON handled_parts (handled_at)",
        """CREATE TABLE conversations (
            conversation TEXT PRIMARY KEY,
            operator_at {REAL},
            handed_off_at {REAL},
            updated_at {REAL} NOT NULL)""",
        """CREATE TABLE answered_rules (
            conversation TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            answered_at {REAL} NOT NULL,
            PRIMARY KEY (conversation, rule_id))""",
        """CREATE TABLE outbox (
            id {ID},
            part_id TEXT NOT NULL UNIQUE,
            conversation TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            random_id BIGINT NOT NULL,
            actions TEXT NOT NULL,
            step INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at {REAL} NOT NULL,
            deadline {REAL} NOT NULL,
            next_attempt_at {REAL} NOT NULL,
            last_error TEXT,
            finished_at {REAL})""",
        "CREATE INDEX outbox_due ON outbox (status, next_attempt_at)",
        "CREATE INDEX outbox_echo ON outbox (conversation, random_id)",
    ),
    ("CREATE INDEX outbox_conversation_order ON outbox (conversation, id)",),
    (
        """CREATE TABLE lead_messages (
            part_id TEXT PRIMARY KEY,
            conversation TEXT NOT NULL,
            received_at {REAL} NOT NULL,
            status TEXT NOT NULL,
            rule_id TEXT,
            fallback INTEGER NOT NULL DEFAULT 0,
            reason TEXT NOT NULL DEFAULT '',
            text TEXT)""",
        "CREATE INDEX lead_messages_age ON lead_messages (received_at)",
    ),
    (
        """CREATE TABLE shared_secrets (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL)""",
    ),
    # The channel a lead wrote through, so that replay can judge rules with `channels`.
    ("ALTER TABLE lead_messages ADD COLUMN sent_via TEXT",),
    # What happened in a conversation in the hour after a rule answered (insight).
    (
        "CREATE INDEX handled_parts_conversation ON handled_parts (conversation, handled_at)",
        "CREATE INDEX lead_messages_conversation ON lead_messages (conversation, received_at)",
    ),
    # The text of a reply as its echo is compared (recognising our own reply without the
    # random_id echo), and which live worker holds a claimed item (no other takes it over).
    (
        "ALTER TABLE outbox ADD COLUMN reply_key TEXT",
        "ALTER TABLE outbox ADD COLUMN holder TEXT",
    ),
    # The steps of an item that failed for good while the rest went on (JSON [[kind, why]]),
    # since when a reply's call may have reached Dashly without our knowing, and when the
    # echo of such a reply arrived: what decides whether it is sent again.
    (
        "ALTER TABLE outbox ADD COLUMN failed_steps TEXT",
        "ALTER TABLE outbox ADD COLUMN unsure_since {REAL}",
        "ALTER TABLE outbox ADD COLUMN echoed_at {REAL}",
    ),
    # When a lead's part last said the conversation is assigned to a person
    # (QUIET_WHEN_ASSIGNED): a reply decided before then is cancelled.
    ("ALTER TABLE conversations ADD COLUMN assigned_at {REAL}",),
    # The conversation's tags and whether it was its first lead message recorded here, kept
    # with a message's text, so that replay judges `if_tags`, `unless_tags` and
    # `first_message` as when the lead wrote (NULL: recorded before, judged first and untagged).
    (
        "ALTER TABLE lead_messages ADD COLUMN tags TEXT",
        "ALTER TABLE lead_messages ADD COLUMN first_message INTEGER",
    ),
    # Why a dead reply died (records.FailureKind), so that /healthz need not read error texts
    # (NULL: died before this was kept).
    ("ALTER TABLE outbox ADD COLUMN failure_kind TEXT",),
)


class Schema(Database):
    """Creating and upgrading the schema, and retrying until the database lets us."""

    def migrate(self) -> None:
        """Create or upgrade the schema; safe when several processes start at once (SQLite's
        write lock, PostgreSQL's advisory lock). The store is ready afterwards."""
        with self.transaction(seconds=MIGRATE_SECONDS, own_connection=True) as run:
            if self.dialect == "postgres":
                run("SELECT pg_advisory_xact_lock(?)", zlib.crc32(b"dashly-autoresponder"))
            run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = run("SELECT MAX(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for version, statements in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in statements:
                    run(statement)
                run("INSERT INTO schema_version (version) VALUES (?)", version)
        self.ready.set()

    def keep_trying_to_migrate(self, stop: threading.Event) -> None:
        """Until the store is ready (or `stop` is set): migrate, and on failure wait and try
        again, the wait doubling up to RETRY_MAX_SECONDS; one log line per interval while it
        fails, one when it works (a daemon thread per worker)."""
        trouble = Trouble("store")
        delay = RETRY_FIRST_SECONDS
        while not self.ready.is_set() and not stop.is_set():
            try:
                self.migrate()
            except StoreUnavailable as error:
                trouble.failed(str(error))
                stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
            else:
                # Connections tried while the server was down left their back-off behind.
                self.backend.start_afresh()
                trouble.recovered()
                log.info("event=store_ready")

    def shared_secret(self, name: str = "secret_key") -> str:
        """A random secret every worker and dyno shares: made by the first to ask, kept."""
        with self.transaction() as run:
            run(
                "INSERT INTO shared_secrets (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                name,
                secrets.token_hex(32),
            )
            return run("SELECT value FROM shared_secrets WHERE name = ?", name).fetchone()[0]

    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""
        self._read("SELECT 1")
