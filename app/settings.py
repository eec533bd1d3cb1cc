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

DEFAULT_API_URL = "https://api.dashly.app"
DEFAULT_DATABASE_URL = "sqlite:///instance/bot.sqlite3"
# `make run` sets this so that a fresh clone answers webhooks without any configuration; it is
# used only when DASHLY_WEBHOOK_TOKEN is unset, and the start-up log says so.
DEV_TOKEN_VARIABLE = "DASHLY_DEV_WEBHOOK_TOKEN"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """One or more settings are unusable; `str()` lists each problem on a line."""


@dataclass(frozen=True)
class Settings:
    """The service's configuration (SPEC §3)."""

    webhook_token: str | None
    webhook_token_is_dev: bool
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

    @property
    def dry_run(self) -> bool:
        """No API key: replies are logged and stored, never sent."""
        return not self.api_token

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log line or an answer."""
        values = [self.webhook_token, self.api_token, self.admin_password]
        password = urlsplit(self.database_url).password
        return tuple(v for v in [*values, password] if v)


def read_environment(overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """`.env` values, then the environment over them, then explicit overrides over both."""
    merged: dict[str, str] = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    merged.update(os.environ)
    for key, value in (overrides or {}).items():
        merged[key] = "" if value is None else str(value)
    return merged


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build and validate the settings; raise SettingsError naming every bad variable."""
    env = read_environment(overrides)
    problems: list[str] = []

    def text(name: str, default: str | None = None) -> str | None:
        value = env.get(name, "").strip()
        return value or default

    def integer(name: str, default: int, minimum: int = 0) -> int:
        raw = text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            problems.append(f"{name} must be a whole number, not {raw!r}")
            return default
        if value < minimum:
            problems.append(f"{name} must be at least {minimum}, not {value}")
            return default
        return value

    api_url = (text("DASHLY_API_URL") or DEFAULT_API_URL).rstrip("/")
    if urlsplit(api_url).scheme not in ("http", "https") or not urlsplit(api_url).netloc:
        problems.append(f"DASHLY_API_URL must be an http(s) URL, not {api_url!r}")

    database_url = text("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not database_url.startswith(("sqlite:///", "postgres://", "postgresql://")):
        problems.append(
            "DATABASE_URL must start with sqlite:///, postgres:// or postgresql:// "
            f"(got a value starting with {database_url.split(':', 1)[0]!r})"
        )

    zone_name = text("BOT_TIMEZONE") or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"BOT_TIMEZONE {zone_name!r} is not a known IANA time zone")
        zone = ZoneInfo("UTC")

    log_level = (text("LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        problems.append(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
        log_level = "INFO"

    webhook_token = text("DASHLY_WEBHOOK_TOKEN")
    dev_token = text(DEV_TOKEN_VARIABLE)
    settings = Settings(
        webhook_token=webhook_token or dev_token,
        webhook_token_is_dev=webhook_token is None and dev_token is not None,
        api_token=text("DASHLY_API_TOKEN"),
        api_url=api_url,
        admin_id=text("DASHLY_ADMIN_ID") or "default_admin",
        rules_dir=Path(text("RULES_DIR") or "rules"),
        database_url=database_url,
        timezone=zone,
        quiet_after_operator_minutes=integer("QUIET_AFTER_OPERATOR_MINUTES", 60),
        max_body_bytes=integer("MAX_BODY_BYTES", 65536, minimum=1024),
        log_level=log_level,
        admin_password=text("ADMIN_PASSWORD"),
        insight_retention_days=integer("INSIGHT_RETENTION_DAYS", 14),
    )
    if problems:
        raise SettingsError("\n".join(problems))
    return settings
