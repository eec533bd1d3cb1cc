"""Dashly's Web API: the calls delivery makes, with errors split into retryable and final."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import urllib3

from app.dashly.parts import digits

log = logging.getLogger(__name__)

# (connect, read) seconds: a slow API must not hold a delivery thread for long.
API_TIMEOUT = (3.05, 10.0)
LEAD_LOOKUP_TIMEOUT = (2.0, 3.0)
NAME_CACHE_SECONDS = 300.0
NAME_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class ApiFailure(Exception):
    """A call that did not succeed; `retryable` says whether trying again can help."""

    message: str
    retryable: bool
    status: int | None = None
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.message


class DashlyClient:
    """Calls to Dashly's Web API over one connection pool (make one per process, after fork).

    urllib3's pool is used directly (it is requests' own transport): a call costs a third less
    CPU than through a requests session, measured in bench/README. Every call goes to one
    host, so it is the host's own pool, without a PoolManager's per-call look-up.
    """

    def __init__(self, base_url: str, api_token: str, from_admin: str) -> None:
        base_url = base_url.rstrip("/")
        self.from_admin = from_admin
        # The API's path prefix (such as /api): the pool is given paths, not whole URLs.
        self._prefix = urlsplit(base_url).path
        # No proxy or .netrc look-ups (requests' trust_env), no automatic retries and no
        # redirects followed: delivery owns the retry policy.
        self.pool = urllib3.connection_from_url(
            base_url,
            maxsize=16,
            retries=False,
            headers={"Authorization": f"Token {api_token}", "User-Agent": "dashly-autoresponder"},
        )
        self._names: dict[str, tuple[float, str | None]] = {}

    def reply(self, conversation: str, body: str, random_id: int) -> None:
        self._post(
            f"/conversations/{digits(conversation, 'conversation')}/reply",
            {"body": body, "from_admin": self.from_admin, "random_id": str(random_id)},
        )

    def add_tag(self, conversation: str, tag: str) -> None:
        self._post(
            f"/conversations/{digits(conversation, 'conversation')}/tag",
            {"tag": tag, "from_admin": self.from_admin},
        )

    def assign(self, conversation: str, admin: str) -> None:
        self._post(
            f"/conversations/{digits(conversation, 'conversation')}/assign",
            {"admin": digits(admin, "admin"), "from_admin": self.from_admin},
        )

    def lead_name(self, user_id: str) -> str | None:
        """The lead's `$name`, or None when unknown or the look-up fails (never raises).
        Remembered for a few minutes: a lead often writes several messages in a row."""
        now = time.monotonic()
        cached = self._names.get(user_id)
        if cached is not None and now - cached[0] < NAME_CACHE_SECONDS:
            return cached[1]
        path = f"/users/{digits(user_id, 'user')}"
        try:
            response = self.pool.request(
                "GET", self._prefix + path, timeout=_timeout(LEAD_LOOKUP_TIMEOUT)
            )
            data = json.loads(response.data) if response.status < 300 else {}
        except (urllib3.exceptions.HTTPError, ValueError) as error:
            log.info("at=info event=lead_lookup_failed user=%s error=%s", user_id, type(error))
            return None
        props = (data.get("data") or {}).get("props") if isinstance(data, dict) else None
        name = props.get("$name") if isinstance(props, dict) else None
        name = name if isinstance(name, str) and name.strip() else None
        if len(self._names) >= NAME_CACHE_SIZE:
            self._names.clear()
        self._names[user_id] = (now, name)
        return name

    def _post(self, path: str, fields: dict[str, str]) -> None:
        try:
            response = self.pool.request(
                "POST",
                self._prefix + path,
                fields=fields,
                encode_multipart=False,  # form-encoded, as the API expects
                timeout=_timeout(API_TIMEOUT),
            )
        except urllib3.exceptions.TimeoutError:
            raise ApiFailure(f"timeout calling {path}", retryable=True) from None
        except urllib3.exceptions.HTTPError as error:
            raise ApiFailure(
                f"cannot reach the API for {path}: {type(error).__name__}", retryable=True
            ) from None
        status = _effective_status(response.status, response.data)
        if status < 300:
            return
        retryable = status == 429 or status >= 500
        raise ApiFailure(
            f"HTTP {status} from {path}: {_error_text(response.data, response.reason)}",
            retryable=retryable,
            status=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )


def _timeout(limits: tuple[float, float]) -> urllib3.Timeout:
    connect, read = limits
    return urllib3.Timeout(connect=connect, read=read)


def _effective_status(status: int, data: bytes) -> int:
    """Dashly repeats the status in `meta.status`; an error there counts even under HTTP 200."""
    if status >= 300:
        return status
    try:
        meta = json.loads(data).get("meta", {})
        repeated = int(meta.get("status", status))
    except (ValueError, AttributeError, TypeError):
        return status
    return repeated if repeated >= 300 else status


def _error_text(data: bytes, reason: str | None) -> str:
    try:
        meta = json.loads(data).get("meta", {})
        text = f"{meta.get('error', '')} {meta.get('error_message', '')}".strip()
    except (ValueError, AttributeError):
        text = data.decode("utf-8", "replace")
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
