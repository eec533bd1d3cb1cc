"""Reading Dashly's answers: `meta` and its status, errors in words, refused properties,
Retry-After, and where the next page of a conversation's messages starts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

# A conversation's messages are read this many at a time (the API's largest page).
PARTS_PAGE_SIZE = 50


def next_page(meta: dict[str, Any], parts: list[Any], since: float) -> dict[str, str] | None:
    """The cursor of the next page of a conversation's messages, or None when the pages left
    cannot hold a part made after `since` (a full page, a cursor, and parts not all older)."""
    if len(parts) < PARTS_PAGE_SIZE:
        return None
    created = [p.get("created") for p in parts if isinstance(p, dict)]
    if created and all(isinstance(c, (int, float)) and c < since for c in created):
        return None  # newest first, and already older than the call
    for name, param in (("next_after", "after"), ("next_before", "before")):
        value = meta.get(name)
        if isinstance(value, (int, str)) and str(value).isdigit():
            return {param: str(value)}
    return None


def meta_of(data: bytes) -> dict[str, Any]:
    """The `meta` object of an answer; empty when the answer has none."""
    try:
        meta = json.loads(data).get("meta")
    except (ValueError, AttributeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def effective_status(status: int, meta: dict[str, Any]) -> int:
    """Dashly repeats the status in `meta.status`; an error there counts even under HTTP 200."""
    if status >= 300:
        return status
    try:
        repeated = int(meta.get("status", status))
    except (ValueError, TypeError):
        return status
    return repeated if repeated >= 300 else status


def refused_operations(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """(property, reason) of each operation Dashly ignored (`meta.ignored_operations`). A
    property in `meta.not_changed_props` that no ignored operation explains already had the
    value sent: that is success, not a refusal."""
    refused: list[tuple[str, str]] = []
    ignored = meta.get("ignored_operations")
    for operation in ignored if isinstance(ignored, list) else []:
        if isinstance(operation, dict):
            key, reason = operation.get("key"), operation.get("reason")
            refused.append((str(key or "?")[:255], str(reason or "no reason given")[:200]))
    return refused


def error_text(data: bytes, reason: str | None, token: str = "") -> str:
    try:
        meta = json.loads(data).get("meta", {})
        text = f"{meta.get('error', '')} {meta.get('error_message', '')}".strip()
    except (ValueError, AttributeError):
        text = data.decode("utf-8", "replace")
    if token:
        text = text.replace(token, "[redacted]")
    return " ".join(text.split())[:200] or reason or "no details"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
