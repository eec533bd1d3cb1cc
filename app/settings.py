"""Every setting of the service, read once from the environment (and `.env`) and validated."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from app.text import zone_hint

DEFAULT_API_URL = "https://api.dashly.app"
DEFAULT_DATABASE_URL = "sqlite:///instance/bot.sqlite3"
# Dashly's name for the account's own default admin, accepted wherever an admin id is.
DEFAULT_ADMIN_ID = "default_admin"
# So that a fresh clone answers the README's curl without any configuration (`make run`,
# `flask run`): accepted only from loopback, only while DASHLY_WEBHOOK_TOKEN is unset, never on
# a platform dyno; the start-up log says so.
DEV_TOKEN_VARIABLE = "DASHLY_DEV_WEBHOOK_TOKEN"
DEFAULT_DEV_TOKEN = "dev-webhook-token"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


# "Typing…" longer than this keeps a lead waiting for an answer that is ready.
MAX_TYPING_SECONDS = 10


class SettingsError(ValueError):
    """One or more settings are unusable; `str()` lists each problem on a line."""


@dataclass(frozen=True)
class Settings:
    """The service's configuration (the README's configuration table)."""

    webhook_token: str | None
    dev_webhook_token: str | None
    api_token: str | None
    api_url: str
    admin_id: str
    rules_dir: Path
    database_url: str
    timezone: ZoneInfo
    quiet_after_operator_minutes: int
    max_body_bytes: int
    log_level: str
    admin_password: str | None
    insight_retention_days: int
    database_pool_size: int = 2
    on_dyno: bool = False
    secret_key: str | None = None
    typing_seconds: int = 0
    # Silent where the lead's part says the conversation is assigned to another admin.
    quiet_when_assigned: bool = False
    # Overrides the calibrated threshold of every rule with examples (None: calibrated).
    match_min_similarity: float | None = None

    @property
    def dry_run(self) -> bool:
        """No API key: replies are logged and stored, never sent."""
        return not self.api_token

    @property
    def refuses_every_webhook(self) -> bool:
        """No token a webhook could carry is accepted: every one gets 401."""
        return self.webhook_token is None and self.dev_webhook_token is None

    @property
    def store_is_durable(self) -> bool:
        """False for SQLite on a platform dyno, whose disk is wiped at every restart."""
        return not (self.on_dyno and self.database_url.startswith("sqlite:"))

    @property
    def short_secrets(self) -> tuple[str, ...]:
        """The names of secrets shorter than 16 characters: easy to guess, hard to mask."""
        named = {
            "DASHLY_WEBHOOK_TOKEN": self.webhook_token,
            "DASHLY_API_TOKEN": self.api_token,
            "ADMIN_PASSWORD": self.admin_password,
        }
        return tuple(name for name, value in named.items() if value and len(value) < 16)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log line or an answer."""
        values = [self.webhook_token, self.api_token, self.admin_password, self.secret_key]
        password = urlsplit(self.database_url).password
        return tuple(v for v in [*values, password] if v)


def read_environment(overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """`.env` values, then the environment over them, then explicit overrides over both.
    `FLASK_SKIP_DOTENV=1` skips `.env`, as it does for the `flask` command."""
    merged: dict[str, str] = {}
    if os.environ.get("FLASK_SKIP_DOTENV", "").lower() in ("", "0", "false", "no"):
        merged = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    merged.update(os.environ)
    for key, value in (overrides or {}).items():
        merged[key] = "" if value is None else str(value)
    return merged


class _Reader:
    """Reads variables from the merged environment, collecting a message per bad value."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name, "").strip()
        return value or default

    def secret(self, name: str) -> str | None:
        """A token or password: no control characters (a newline would reach a header)."""
        value = self.text(name)
        if value is not None and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            self.problems.append(f"{name} holds a control character (a newline?); remove it")
            return None
        return value

    def integer(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name} must be a whole number, not {raw!r}")
            return default
        if value < minimum:
            self.problems.append(f"{name} must be at least {minimum}, not {value}")
            return default
        if maximum is not None and value > maximum:
            self.problems.append(f"{name} must be at most {maximum}, not {value}")
            return default
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """`true`/`false` (also 1/0, yes/no, on/off), any case."""
        raw = self.text(name)
        if raw is None:
            return default
        value = raw.lower()
        if value in ("true", "1", "yes", "on"):
            return True
        if value in ("false", "0", "no", "off"):
            return False
        self.problems.append(f"{name} must be true or false, not {raw[:20]!r}")
        return default

    def fraction(self, name: str) -> float | None:
        """A number from 0 to 1, or None when unset."""
        raw = self.text(name)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not 0 <= value <= 1:
            self.problems.append(f"{name} must be a number from 0 to 1, not {raw!r}")
            return None
        return value

    def api_url(self) -> str:
        api_url = (self.text("DASHLY_API_URL") or DEFAULT_API_URL).rstrip("/")
        if urlsplit(api_url).scheme not in ("http", "https") or not urlsplit(api_url).netloc:
            self.problems.append(f"DASHLY_API_URL must be an http(s) URL, not {api_url!r}")
        return api_url

    def database_url(self) -> str:
        database_url = self.text("DATABASE_URL") or DEFAULT_DATABASE_URL
        if not database_url.startswith(("sqlite:///", "postgres://", "postgresql://")):
            self.problems.append(
                "DATABASE_URL must start with sqlite:///, postgres:// or postgresql:// "
                f"(got a value starting with {database_url.split(':', 1)[0]!r})"
            )
        return database_url

    def zone(self) -> ZoneInfo:
        zone_name = self.text("BOT_TIMEZONE") or "UTC"
        try:
            return ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            self.problems.append(
                f"BOT_TIMEZONE {zone_name!r} is not a known IANA time zone{zone_hint(zone_name)}"
            )
            return ZoneInfo("UTC")

    def admin_id(self) -> str:
        """The admin the bot speaks as: an admin's number, or Dashly's `default_admin`."""
        admin_id = self.text("DASHLY_ADMIN_ID") or DEFAULT_ADMIN_ID
        if admin_id != DEFAULT_ADMIN_ID and not (admin_id.isascii() and admin_id.isdigit()):
            self.problems.append(
                f"DASHLY_ADMIN_ID must be an admin's number (Dashly: Settings, Operators) or "
                f"{DEFAULT_ADMIN_ID}, not {admin_id[:40]!r}"
            )
            return DEFAULT_ADMIN_ID
        return admin_id

    def log_level(self) -> str:
        log_level = (self.text("LOG_LEVEL") or "INFO").upper()
        if log_level not in LOG_LEVELS:
            self.problems.append(
                f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}"
            )
            return "INFO"
        return log_level


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build and validate the settings; raise SettingsError naming every bad variable."""
    read = _Reader(read_environment(overrides))
    webhook_token = read.secret("DASHLY_WEBHOOK_TOKEN")
    on_dyno = bool(read.text("DYNO"))
    dev_token = read.text(DEV_TOKEN_VARIABLE, DEFAULT_DEV_TOKEN)
    # The development token opens the webhook only for a service started on purpose for
    # development: `make run` says so (LOCAL_RUN=make), `flask run` sets FLASK_RUN_FROM_CLI.
    # Behind a proxy on the same machine that adds no X-Forwarded-For, any caller would
    # otherwise look like loopback.
    local_run = read.text("LOCAL_RUN") == "make" or read.text("FLASK_RUN_FROM_CLI") == "true"
    settings = Settings(
        webhook_token=webhook_token,
        dev_webhook_token=dev_token if local_run and not (webhook_token or on_dyno) else None,
        api_token=read.secret("DASHLY_API_TOKEN"),
        api_url=read.api_url(),
        admin_id=read.admin_id(),
        rules_dir=Path(read.text("RULES_DIR") or "rules"),
        database_url=read.database_url(),
        timezone=read.zone(),
        quiet_after_operator_minutes=read.integer("QUIET_AFTER_OPERATOR_MINUTES", 60),
        max_body_bytes=read.integer("MAX_BODY_BYTES", 65536, minimum=1024),
        log_level=read.log_level(),
        admin_password=read.secret("ADMIN_PASSWORD"),
        insight_retention_days=read.integer("INSIGHT_RETENTION_DAYS", 14),
        database_pool_size=read.integer("DATABASE_POOL_SIZE", 2, minimum=1),
        on_dyno=on_dyno,
        secret_key=read.secret("SECRET_KEY"),
        typing_seconds=read.integer("TYPING_SECONDS", 0, maximum=MAX_TYPING_SECONDS),
        quiet_when_assigned=read.boolean("QUIET_WHEN_ASSIGNED", False),
        match_min_similarity=read.fraction("MATCH_MIN_SIMILARITY"),
    )
    if read.problems:
        raise SettingsError("\n".join(read.problems))
    return settings
