"""Log lines: a failing component is said once per interval, not once per try."""

from __future__ import annotations

import logging
import sys

from app.logs import LineFormatter, Trouble


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The line as written, without the `pid=N` that starts it.
        self.lines.append(LineFormatter().format(record).split(" ", 1)[1])


def test_a_failure_that_lasts_is_logged_once_per_interval_and_its_end_once() -> None:
    now = [0.0]
    trouble = Trouble("delivery", repeat_seconds=60, clock=lambda: now[0])
    collect, logger = Collect(), logging.getLogger("app.trouble")
    logger.addHandler(collect)
    try:
        for _ in range(1000):  # a database restart: a thousand failed tries in 50 s
            trouble.failed("state store error: connection refused")
            now[0] += 0.05
        now[0] = 61
        trouble.failed("state store error: connection refused")
        trouble.recovered()
        trouble.recovered()
    finally:
        logger.removeHandler(collect)
    assert collect.lines == [
        "at=error component=delivery error='state store error: connection refused'",
        "at=error component=delivery error='state store error: connection refused' "
        "failing_for_s=61 repeats_not_logged=999",
        "at=warning component=delivery event=recovered failed_for_s=61",
    ]


def test_secrets_are_masked_in_tracebacks_too() -> None:
    from app.logs import LineFormatter

    formatter = LineFormatter(["sk-live-0123456789abcdef"])
    try:
        raise ValueError("the API said: bad key sk-live-0123456789abcdef")
    except ValueError:
        record = logging.LogRecord(
            "app", logging.ERROR, __file__, 1, "at=error event=x", None, sys.exc_info()
        )
    text = formatter.format(record)
    assert "Traceback" in text
    assert "sk-live-0123456789abcdef" not in text
    assert "[redacted]" in text


def test_a_value_cannot_split_a_line_or_add_a_field() -> None:
    """A lead's or a proxy's text in a log line is quoted, with every line break escaped as
    itself (U+2028 as \\u2028, not as a garbled \\x2028)."""
    from app.logs import LineFormatter

    record = logging.LogRecord(
        "app",
        logging.INFO,
        __file__,
        1,
        "at=info client=%s",
        ('1.2.3.4\u2028at=error forged=yes\n\x85"',),
        None,
    )
    text = LineFormatter().format(record)
    assert "\n" not in text and "\u2028" not in text and "\x85" not in text
    assert 'client="1.2.3.4\\u2028at=error forged=yes\\x0a\\x85\\""' in text
