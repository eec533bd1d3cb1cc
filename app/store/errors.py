"""The store's one error, and how a driver's error is told without leaking a secret."""

from __future__ import annotations

import contextlib
import re
from typing import Any

# libpq quotes parts of a connection string (a malformed password among them) in its errors.
_CONNINFO = re.compile(r"(?:postgres(?:ql)?://\S*|password\s*=\s*\S+|\"[^\"]*\")", re.I)


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or used; the message never holds the URL."""


def describe(error: BaseException) -> str:
    """An error's first line, without any connection string or quoted value (which may hold a
    password)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = _CONNINFO.sub("…", text).strip()
    return text or type(error).__name__


def close_quietly(connection: Any) -> None:
    """Close a connection that may be broken: closing may fail too, and it is gone either way."""
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.close()
