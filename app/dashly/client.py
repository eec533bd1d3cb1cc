"""Dashly's Web API: the calls delivery makes, with errors split into retryable and final."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import NewConnectionError

from app.dashly.answers import (
    PARTS_PAGE_SIZE,
    effective_status,
    error_text,
    meta_of,
    next_page,
    parse_retry_after,
    refused_operations,
)
from app.dashly.parts import PartError, digits, parse_part
from app.text import echo_key

log = logging.getLogger(__name__)

# (connect, read) seconds: a slow API must not hold a delivery thread for long.
API_TIMEOUT = (3.05, 10.0)
LEAD_LOOKUP_TIMEOUT = (2.0, 3.0)
NAME_CACHE_SECONDS = 300.0
NAME_CACHE_SIZE = 10_000
# Connections kept open to the API per process: more than delivery's senders.
POOL_SIZE = 16
# Reading a conversation's messages to learn whether a reply reached it: pages read at most
# (a reply is among the latest messages).
PARTS_PAGES = 4
# Dashly stamps a part with its own clock: a part this much older than our call may still be
# the reply that call made.
CLOCK_SKEW_SECONDS = 60.0


@dataclass(frozen=True)
class ApiFailure(Exception):
    """A call that did not succeed; `retryable` says whether trying again can help."""

    message: str
    retryable: bool
    status: int | None = None
    retry_after: float | None = None
    # The call may have taken effect although it failed (a timeout after the request was
    # sent, a 5xx, a 200 without Dashly's answer): a reply is checked for before it is resent.
    unsure: bool = False
    # Dashly's name for the error (`meta.error`: "ReplyTooBig", ...), when it gave one.
    code: str | None = None

    def __str__(self) -> str:
        return self.message


class DashlyClient:
    """Calls to Dashly's Web API over one requests session (make one per process, after fork).

    Every call goes to one host: the session's adapter keeps up to POOL_SIZE connections to it
    (delivery's senders share them). No proxy or .netrc look-ups, no automatic retries and no
    redirects followed: delivery owns the retry policy. TLS certificates are verified.
    """

    def __init__(
        self,
        base_url: str,
        api_token: str,
        from_admin: str,
        clock: Callable[[], float] = time.monotonic,
        timeout: tuple[float, float] = API_TIMEOUT,
    ) -> None:
        self.clock = clock
        self.timeout = timeout
        # Masked out of the API's error texts; an empty key would match everywhere.
        self._token = api_token or "\0"
        self.from_admin = from_admin
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers.update(
            {"Authorization": f"Token {api_token}", "User-Agent": "dashly-autoresponder"}
        )
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._adapter = adapter
        self._base_url = _canonical(base_url.rstrip("/"))
        self._names: dict[str, tuple[float, str | None]] = {}
        # While the API has asked to wait (429 or 503 with Retry-After), no call is made: not
        # the other replies' and not the name look-ups (per process).
        self._paused_until = 0.0

    def reply(self, conversation: str, body: str, random_id: int, note: bool = False) -> None:
        """A reply in the chat, or (`note`) a note only the operators see."""
        fields = {"body": body, "from_admin": self.from_admin, "random_id": str(random_id)}
        if note:
            fields["type"] = "note"
        self._post(f"/conversations/{digits(conversation, 'conversation')}/reply", fields)

    def show_typing(self, conversation: str) -> None:
        """ "Typing…" in the lead's chat until the answer comes."""
        self._post(
            f"/conversations/{digits(conversation, 'conversation')}/settyping",
            {"body": "", "from_admin": self.from_admin},
        )

    def add_tag(self, conversation: str, tag: str) -> None:
        """Tag the conversation; a tag it already has is no failure (the current API answers
        400 `ConversationTagAlreadyAssigned` where the old one answered 200)."""
        self._post(
            f"/conversations/{digits(conversation, 'conversation')}/tag",
            {"tag": tag, "from_admin": self.from_admin},
            already_done="ConversationTagAlreadyAssigned",
        )

    def close(self, conversation: str, random_id: int) -> None:
        self._post(
            f"/conversations/{digits(conversation, 'conversation')}/close",
            {"from_admin": self.from_admin, "random_id": str(random_id)},
        )

    def assign(self, conversation: str, admin: str) -> None:
        self._post(
            f"/conversations/{digits(conversation, 'conversation')}/assign",
            {"admin": digits(admin, "admin"), "from_admin": self.from_admin},
        )

    def set_props(self, user_id: str, values: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Set lead properties (`update_or_create` is safe to repeat). Returns what Dashly
        refused, as (property, Dashly's reason): the call still succeeds then."""
        operations = [{"op": "update_or_create", "key": k, "value": v} for k, v in values]
        meta = self._post(
            f"/users/{digits(user_id, 'user')}/props",
            {"operations": json.dumps(operations, ensure_ascii=False)},
        )
        return refused_operations(meta)

    def track_event(self, user_id: str, event: str, params: dict[str, str]) -> None:
        """Track an event on the lead (Dashly takes no id for it: a retry after a lost answer
        can track it twice). Never with `created`: Dashly's triggers ignore such an event."""
        fields = {"event": event, "params": json.dumps(params, ensure_ascii=False)}
        self._post(f"/users/{digits(user_id, 'user')}/events", fields)

    def lead_name(self, user_id: str) -> str | None:
        """The lead's `$name`, or None when unknown or the look-up fails (never raises).
        An answer is remembered for a few minutes (a lead often writes several messages in a
        row); a failure is not, so the next reply asks again."""
        now = self.clock()
        cached = self._names.get(user_id)
        if cached is not None and now - cached[0] < NAME_CACHE_SECONDS:
            return cached[1]
        if self.paused_for() > 0:
            return None
        path = f"/users/{digits(user_id, 'user')}"
        try:
            response = self.session.get(
                self._base_url + path, timeout=LEAD_LOOKUP_TIMEOUT, allow_redirects=False
            )
            self._pause_if_asked(response)
            if response.status_code >= 300:
                raise ValueError(f"HTTP {response.status_code}")
            data = response.json()
        except (requests.RequestException, ValueError) as error:
            log.info("event=lead_lookup_failed user=%s error=%s", user_id, _kind(error))
            return None
        props = (data.get("data") or {}).get("props") if isinstance(data, dict) else None
        name = props.get("$name") if isinstance(props, dict) else None
        name = name if isinstance(name, str) and name.strip() else None
        if len(self._names) >= NAME_CACHE_SIZE:
            self._names.clear()
        self._names[user_id] = (now, name)
        return name

    def has_reply(self, conversation: str, key: str, since: float) -> bool:
        """Whether the conversation's messages hold a reply from the bot's admin whose text
        has the echo key `key` (app.text.echo_key), made at `since` or later by Dashly's clock
        (give or take CLOCK_SKEW_SECONDS). Needs the key's `conversations-read` scope;
        raises ApiFailure when the messages cannot be read."""
        path = f"/conversations/{digits(conversation, 'conversation')}/parts"
        params = {"count": str(PARTS_PAGE_SIZE)}
        for _ in range(PARTS_PAGES):
            data, meta = self._get(path, params)
            parts = data if isinstance(data, list) else []
            if any(self._is_our_part(part, key, since - CLOCK_SKEW_SECONDS) for part in parts):
                return True
            cursor = next_page(meta, parts, since - CLOCK_SKEW_SECONDS)
            if cursor is None:
                return False
            params = {**params, **cursor}
        return False

    def is_closed(self, conversation: str) -> bool:
        """Whether Dashly says the conversation is closed; raises ApiFailure when it cannot
        be read."""
        data, _ = self._get(f"/conversations/{digits(conversation, 'conversation')}", {})
        return isinstance(data, dict) and data.get("closed") is True

    def _is_our_part(self, raw: Any, key: str, since: float) -> bool:
        if not isinstance(raw, dict) or raw.get("type") != "reply_admin":
            return False
        try:
            part = parse_part(raw)
        except PartError:
            return False
        created = raw.get("created")
        recent = isinstance(created, (int, float)) and created >= since
        return recent and part.is_from_bot_admin(self.from_admin) and echo_key(part.body) == key

    def _get(self, path: str, params: dict[str, str]) -> tuple[Any, dict[str, Any]]:
        """GET a resource: its `data` and `meta`; ApiFailure when the call fails."""
        waiting = self.paused_for()
        if waiting > 0:
            raise ApiFailure(f"not calling {path}: the API asked to wait", retryable=True)
        try:
            response = self.session.get(
                self._base_url + path, params=params, timeout=self.timeout, allow_redirects=False
            )
            content = response.content
        except requests.RequestException as error:
            raise ApiFailure(f"{_kind(error)} calling {path}", retryable=True) from None
        self._pause_if_asked(response)
        try:
            answer = json.loads(content)
        except ValueError:
            answer = None
        meta = answer.get("meta") if isinstance(answer, dict) else None
        status = effective_status(response.status_code, meta if isinstance(meta, dict) else {})
        if status >= 300 or not isinstance(meta, dict):
            details = error_text(content, response.reason, self._token)
            raise ApiFailure(f"HTTP {status} from {path}: {details}", retryable=status >= 500)
        return answer.get("data"), meta

    def paused_for(self) -> float:
        """Seconds left of the wait the API asked for (0 when calls may go out)."""
        return max(0.0, self._paused_until - self.clock())

    def _pause_if_asked(self, response: requests.Response) -> float | None:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after and response.status_code in (429, 503):
            self._paused_until = max(self._paused_until, self.clock() + retry_after)
        return retry_after

    def _post(
        self, path: str, fields: dict[str, str], already_done: str | None = None
    ) -> dict[str, Any]:
        """POST a form; the answer's `meta`. `already_done` names an error of Dashly's that
        means the call's effect is already there (a success)."""
        waiting = self.paused_for()
        if waiting > 0:
            raise ApiFailure(
                f"not calling {path}: the API asked to wait {waiting:.0f} s more",
                retryable=True,
                retry_after=waiting,
            )
        try:
            response = self._send_form(path, fields)
            content = response.content  # read here: a body cut short is a failed call too
        except requests.RequestException as error:
            raise ApiFailure(
                f"{_kind(error)} calling {path}", retryable=True, unsure=_may_have_arrived(error)
            ) from None
        retry_after = self._pause_if_asked(response)
        meta = meta_of(content)
        status = effective_status(response.status_code, meta)
        if status < 300 and not meta:
            # Something answered 200 without Dashly's answer (a proxy, a page cut short):
            # whether the call took effect is not known.
            raise ApiFailure(
                f"HTTP {status} without Dashly's answer from {path}",
                retryable=True,
                status=status,
                unsure=True,
            )
        if status < 300 or (already_done and meta.get("error") == already_done):
            return meta
        retryable = status == 429 or status >= 500
        # The API's words are stored and shown on /admin: never with the key in them.
        # Masked before it is cut: cut first, a key's first characters could survive.
        details = error_text(content, response.reason, self._token)
        code = meta.get("error")
        raise ApiFailure(
            f"HTTP {status} from {path}: {details}",
            retryable=retryable,
            status=status,
            retry_after=retry_after,
            unsure=status >= 500,
            code=code if isinstance(code, str) else None,
        )

    def _send_form(self, path: str, fields: dict[str, str]) -> requests.Response:
        """POST a form through the session's adapter. Delivery's calls skip what Session.send
        adds around it (cookies, hooks, redirects, the environment's proxies: none is used
        here), which was a third of each call's CPU."""
        request = requests.PreparedRequest()
        request.method = "POST"
        request.url = self._base_url + path
        request.headers = CaseInsensitiveDict(self.session.headers)
        request.prepare_body(fields, None)
        return self._adapter.send(request, timeout=self.timeout)


def _canonical(url: str) -> str:
    """The URL quoted and checked as requests does for every call (done once: the paths
    added to it hold only fixed words and digits); unchanged when requests refuses it, so
    each call fails with its own message."""
    prepared = requests.PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except requests.RequestException:
        return url
    return (prepared.url or url).rstrip("/")


def _kind(error: BaseException) -> str:
    """What went wrong with a call, in words an operator can act on (no URL, no secret)."""
    if isinstance(error, requests.ConnectTimeout):
        return "timeout connecting"
    if isinstance(error, requests.Timeout):
        return "timeout"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS error"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "answer cut short"
    if isinstance(error, requests.ConnectionError):
        return "cannot connect"
    return type(error).__name__


def _may_have_arrived(error: requests.RequestException) -> bool:
    """Whether a failed call may have reached Dashly: not when no connection was made."""
    if isinstance(error, requests.ConnectTimeout):
        return False
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return not isinstance(reason, NewConnectionError)
