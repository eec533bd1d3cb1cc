"""Logging: key=value lines on stderr (as Heroku's router logs), with secrets masked."""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable

REDACTED = "[redacted]"
_log = logging.getLogger("app.trouble")


class LineFormatter(logging.Formatter):
    """`pid=N at=LEVEL <message>`: the worker that wrote the line (Heroku adds the time and
    the dyno) and the level in lower case, as the router writes its own lines (`at=info`); any
    traceback folded into the same record, and every configured secret masked in all of it.

    Masking happens here, on the finished text, so a secret quoted by a library's error or
    inside a traceback is masked too."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("pid=%(process)d at=%(at)s %(message)s")
        # Shorter values would garble every line they occur in; start-up warns about them.
        self.secrets = tuple(sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True))

    def format(self, record: logging.LogRecord) -> str:
        record.at = record.levelname.lower()
        if isinstance(record.args, tuple):
            record.args = tuple(_Logged(a) if isinstance(a, str) else a for a in record.args)
        text = super().format(record)
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


# What a value may hold and still be written bare after `key=`: anything else is quoted, with
# control characters (and the Unicode line breaks \x85, \u2028, \u2029) escaped, so that no
# value (a forged X-Forwarded-For) can add a key=value field or a line to the log.
_BARE = re.compile(r"[\w.:/@+\-\[\]]*")
_ESCAPED = re.compile(r'["\\\x00-\x1f\x7f-\x9f\u2028\u2029]')


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    if char in '"\\':
        return "\\" + char
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


class _Logged(str):
    """A text argument of a log line: `%s` writes it bare or quoted and escaped, `%r` as repr
    (which escapes what is not printable)."""

    def __str__(self) -> str:
        text = str.__str__(self)
        if _BARE.fullmatch(text):
            return text
        return '"' + _ESCAPED.sub(_escape, text) + '"'

    def __repr__(self) -> str:
        return repr(str.__str__(self))


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    """One handler on the `app` logger; calling again replaces it (tests build many apps)."""
    logger = logging.getLogger("app")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(LineFormatter(secrets))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


# While a component keeps failing, its failure is logged again at most this often.
REPEAT_SECONDS = 60.0


class Trouble:
    """A component's failures in the log without a flood: the first at once, then at most one
    line every REPEAT_SECONDS while they last (saying how many were not logged), and one line
    when the component works again. No traceback: the error's words say what is wrong."""

    def __init__(
        self,
        component: str,
        repeat_seconds: float = REPEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.component = component
        self.repeat_seconds = repeat_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None
        self._last_logged = 0.0
        self._unlogged = 0

    def failed(self, error: str) -> None:
        with self._lock:
            now = self.clock()
            if self._since is not None and now - self._last_logged < self.repeat_seconds:
                self._unlogged += 1
                return
            first = self._since is None
            since = now if self._since is None else self._since
            self._since = since
            self._last_logged, unlogged, self._unlogged = now, self._unlogged, 0
        if first:
            _log.error("component=%s error=%r", self.component, error)
        else:
            _log.error(
                "component=%s error=%r failing_for_s=%.0f repeats_not_logged=%d",
                self.component,
                error,
                now - since,
                unlogged,
            )

    def recovered(self) -> None:
        if self._since is None:
            return  # the common case, without the lock
        with self._lock:
            if self._since is None:
                return
            since, self._since, self._unlogged = self._since, None, 0
        _log.warning(
            "component=%s event=recovered failed_for_s=%.0f",
            self.component,
            self.clock() - since,
        )
