"""SQLite: one connection per process (its page cache stays warm), writers queued on a lock
shared by every process, WAL kept small, commits durable across a power loss."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.store.errors import StoreUnavailable, close_quietly, describe
from app.store.group_commit import GroupCommit

BUSY_TIMEOUT_SECONDS = 5
# The WAL is copied back into the database by a thread of each worker every second
# (housekeeping); a writer does it only when that falls this far behind (SQLite's default).
WAL_BACKSTOP_PAGES = 1_000
# Once a checkpoint has copied everything, the next writer cuts the WAL file back to this size:
# on a small disk a WAL that only grows takes the space that Dashly's retries then need.
WAL_SIZE_LIMIT_BYTES = 512 * 1024
# With less free space than this on the database's disk (or after a write found it full), each
# writer checkpoints at a WAL of TIGHT_WAL_PAGES (256 KB) instead: slower, but a burst of
# Dashly's retries then needs little more space than its rows.
LOW_DISK_BYTES = 16 * 1024 * 1024
TIGHT_WAL_PAGES = 64


class SqliteBackend:
    """Connections to one SQLite file, safe across threads and processes."""

    errors: tuple[type[Exception], ...] = (sqlite3.Error, OSError)

    def __init__(self, url: str) -> None:
        self.path = Path(url.removeprefix("sqlite:///"))
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._lock_file: Any = None
        self._lock_pid: int | None = None
        self._tight = False
        self._group = GroupCommit(self._lock, begin=self._begin, end=self._unlock)

    def connect(self) -> sqlite3.Connection:
        """A new connection with the service's settings."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,  # shared by the process's threads, under a lock
        )
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        switch_to_wal(connection)
        # FULL: a commit is on disk before the webhook is answered 200, so an OS crash or a
        # power loss loses nothing Dashly will not send again (NORMAL lost the last commits).
        connection.execute("PRAGMA synchronous=FULL")
        # Judged before the first write, not at the first checkpoint a second later: a burst
        # at start on a small disk must not let the WAL take the space its checkpoint needs.
        self._tight = self._tight or bool(self._low_on_space())
        pages = TIGHT_WAL_PAGES if self._tight else WAL_BACKSTOP_PAGES
        connection.execute(f"PRAGMA wal_autocheckpoint={pages}")
        connection.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
        return connection

    def watch_free_space(self) -> None:
        """Keep the WAL tight while the disk is low on space (the checkpoint thread calls
        this every second)."""
        low = self._low_on_space()
        if low is not None:
            self._set_tight(low)

    def _low_on_space(self) -> bool | None:
        """Whether the database's disk has less than LOW_DISK_BYTES free; None when unknown."""
        try:
            stats = os.statvfs(self.path.parent)
        except OSError:
            return None
        return stats.f_bavail * stats.f_frsize < LOW_DISK_BYTES

    def _set_tight(self, tight: bool) -> None:
        if tight == self._tight:
            return
        with self._lock:
            self._tight = tight
            if self._connection is not None and self._pid == os.getpid():
                pages = TIGHT_WAL_PAGES if tight else WAL_BACKSTOP_PAGES
                self._connection.execute(f"PRAGMA wal_autocheckpoint={pages}")

    def _shared(self) -> sqlite3.Connection:
        # A connection made before a fork belongs to the parent: never reuse it in a child.
        if self._pid != os.getpid() or self._connection is None:
            self._pid, self._connection = os.getpid(), None
            try:
                self._connection = self.connect()
            except (sqlite3.Error, OSError) as error:
                raise StoreUnavailable(f"cannot open the state store: {describe(error)}") from None
        return self._connection

    @contextmanager
    def transaction(
        self, seconds: float, own_connection: bool = False
    ) -> Iterator[Callable[[str, Any], Any]]:
        """A write transaction. Threads queue on the process's lock, then on a file lock shared
        with the other processes: both wake the next writer at once, where SQLite's own busy
        wait sleeps 1 to 100 ms between tries. BEGIN IMMEDIATE takes the write lock at once, so
        a read that later writes waits instead of failing with "locked". Writers that queue
        together share one commit (group commit): one fsync for all of them."""
        try:
            with self._group.transaction(self._shared) as execute:
                yield execute
        except sqlite3.OperationalError as error:
            if "full" in str(error):
                with self._lock:
                    self._give_the_wal_back(self._shared())
            raise

    def _begin(self) -> None:
        connection = self._shared()  # creates the folder the lock file is in
        self._lock_exclusively()
        try:
            connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._unlock()
            raise

    def _give_the_wal_back(self, connection: sqlite3.Connection) -> None:
        """The disk is full: copy the WAL into the database and cut it to nothing, so the
        space it held serves the next tries (Dashly retries what got 503), and keep it tight."""
        self._set_tight(True)
        with contextlib.suppress(sqlite3.Error):  # not even that fits: the next try will tell
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def read(self, sql: str, params: tuple[Any, ...], seconds: float) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._shared().execute(sql, params).fetchall())

    def _lock_exclusively(self) -> None:
        """An exclusive flock on `<database>.lock`, held by one writer (or one batch of
        writers) of one process at a time (the kernel drops it if the process dies)."""
        if self._lock_pid != os.getpid():
            self._lock_pid = os.getpid()
            self._lock_file = open(f"{self.path}.lock", "a+b")  # noqa: SIM115
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)

    def _unlock(self) -> None:
        fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def reset(self) -> None:
        """Forget this process's connection after an error: the next use opens a new one (not
        while a batch of other writers is under way on it: its last writer ends it)."""
        with self._lock:
            if self._group.open:
                return
            connection, self._connection = self._connection, None
        close_quietly(connection)

    def close(self) -> None:
        self.reset()

    def start_afresh(self) -> None:
        """Nothing to do: SQLite has no pool with a back-off."""


def switch_to_wal(connection: sqlite3.Connection) -> None:
    """Several processes opening a new database at once contend for the switch to WAL, and
    SQLite answers "locked" at once instead of waiting: retry within the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
