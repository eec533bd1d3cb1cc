"""PostgreSQL: a bounded pool per process (psycopg_pool), and client-side deadlines, because a
frozen server answers neither queries nor the server-side timeouts meant to end them."""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from app.store.errors import StoreUnavailable, close_quietly, describe

log = logging.getLogger(__name__)
# The pool logs every failed connection attempt, with the server's words; the service's own
# lines (one per interval while it lasts) say it instead.
logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)

CONNECT_TIMEOUT_SECONDS = 3
# How long a request waits for a pooled connection before it answers 503.
POOL_WAIT_SECONDS = 3.0
# A connection unused this long is checked (one round trip) before it is handed out, so a
# connection that died while idle costs a retry, not a webhook's 503.
IDLE_CHECK_SECONDS = 30.0
# When the pool gets no connection, a connection of our own asks why at most this often.
WHY_SECONDS = 60.0
# While the database is known down (our own connection was refused), requests answer at once
# instead of waiting POOL_WAIT_SECONDS each, and a thread tries to connect this often.
DOWN_PROBE_SECONDS = 1.0
# SQLSTATE class 53 (too many connections, out of memory or disk): the server is up and busy,
# a pooled connection may come free, so requests keep waiting for one.
_BUSY_CLASS = "53"


class PostgresBackend:
    """A pool of at most `pool_size` connections in this process, made after the fork."""

    errors: tuple[type[Exception], ...] = (psycopg.Error, OSError)

    def __init__(self, url: str, pool_size: int) -> None:
        self.url = url
        self.pool_size = pool_size
        self._pool: ConnectionPool | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._last_used: dict[int, float] = {}
        self._watchdog = Watchdog()
        # Why the pool last got no connection, and when that was last asked.
        self._reason = "the database is slow, down, or out of connections"
        self._asked_at = -WHY_SECONDS
        # Why the database is known down in this process (None: not known down), and the pid
        # whose thread is probing for it to come back.
        self._down: str | None = None
        self._probing_in: int | None = None

    def connect(self) -> psycopg.Connection:
        """A connection of its own, outside the pool (migrations, one-off commands)."""
        return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)

    def _pool_here(self) -> ConnectionPool:
        # A pool made before a fork belongs to the parent: each process makes its own.
        if self._pid != os.getpid() or self._pool is None:
            with self._lock:
                if self._pid != os.getpid() or self._pool is None:
                    self._pool = ConnectionPool(
                        self.url,
                        min_size=0,  # connects on demand: a database down at boot is no error
                        max_size=self.pool_size,
                        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
                        check=self._check_if_idle,
                        timeout=POOL_WAIT_SECONDS,
                        reconnect_timeout=300,  # keep trying through a restart of the server
                        name="store",
                        open=True,
                    )
                    self._pid = os.getpid()
                    self._last_used = {}
        return self._pool

    def _check_if_idle(self, connection: psycopg.Connection) -> None:
        """Run by the pool before it hands a connection out: one that has something to read
        while idle was closed by the server (a restart, a terminated backend); the pool then
        drops it and tries another."""
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
        if readable:
            connection.close()  # so the pool drops it instead of taking it back
            raise psycopg.OperationalError("the connection was closed while idle")
        if time.monotonic() - self._last_used.get(id(connection), 0.0) > IDLE_CHECK_SECONDS:
            with self._watchdog.deadline(connection, CONNECT_TIMEOUT_SECONDS):
                connection.execute("SELECT 1")

    @contextmanager
    def _borrowed(self, seconds: float) -> Iterator[psycopg.Connection]:
        down = self._down
        if down is not None:
            if self._probing_in != os.getpid():  # known down before a fork: probe here too
                self._known_down(down)
            raise StoreUnavailable(f"the database is down: {down}")
        try:
            with self._pool_here().connection() as connection:
                with self._watchdog.deadline(connection, seconds):
                    yield connection
                self._last_used[id(connection)] = time.monotonic()
        except PoolTimeout:
            raise StoreUnavailable(
                f"no database connection within {POOL_WAIT_SECONDS:.0f} s: {self._why()}"
            ) from None

    def _why(self) -> str:
        """Why the pool got no connection: the pool only says it waited, so one connection of
        our own is tried (at most once a minute) and its error told (a wrong password reads as
        such, not as a slow database)."""
        now = time.monotonic()
        if now - self._asked_at < WHY_SECONDS:
            return self._reason
        self._asked_at = now
        try:
            close_quietly(self.connect())
            self._reason = "the database is slow or out of connections"
        except psycopg.Error as error:
            self._reason = describe(error)
            if not (error.sqlstate or "").startswith(_BUSY_CLASS):
                self._known_down(self._reason)
        return self._reason

    def _known_down(self, why: str) -> None:
        """Answer at once from now on, and probe until a connection of our own is accepted."""
        with self._lock:
            self._down = why
            if self._probing_in == os.getpid():
                return
            self._probing_in = os.getpid()
        threading.Thread(target=self._probe_until_up, name="store-probe", daemon=True).start()

    def _probe_until_up(self) -> None:
        while True:
            time.sleep(DOWN_PROBE_SECONDS)
            try:
                close_quietly(self.connect())
            except psycopg.Error as error:
                self._down = describe(error)
                continue
            with self._lock:
                self._down, self._probing_in, self._asked_at = None, None, -WHY_SECONDS
            self.start_afresh()  # the old pool may be deep in its back-off
            log.info("event=store_back")
            return

    @contextmanager
    def transaction(
        self, seconds: float, own_connection: bool = False
    ) -> Iterator[Callable[[str, Any], Any]]:
        """On a pooled connection, or on one of its own (migrations: the master never makes a
        pool, and a failure to connect says why, where the pool only says it timed out)."""
        if own_connection:
            with (
                self.connect() as connection,
                self._watchdog.deadline(connection, seconds),
                connection.transaction(),
            ):
                yield connection.execute
            return
        with self._borrowed(seconds) as connection, connection.transaction():
            yield connection.execute

    def read(self, sql: str, params: tuple[Any, ...], seconds: float) -> list[tuple[Any, ...]]:
        with self._borrowed(seconds) as connection:
            return list(connection.execute(sql, params).fetchall())

    def reset(self) -> None:
        """Nothing to do: the pool drops a connection that came back broken."""

    def start_afresh(self) -> None:
        """Drop this process's pool, if any: one that tried to connect while the server was
        down waits out a growing back-off before its next try, seconds after the server is
        back; the next use makes a new pool, which connects at once."""
        with self._lock:
            if self._pid != os.getpid():
                return
            pool, self._pool = self._pool, None
        if pool is not None:
            try:
                pool.close(timeout=1.0)
            except Exception as error:  # closing a pool of a dead server may fail too
                log.debug("event=pool_close_failed error=%r", describe(error))

    def close(self) -> None:
        if self._pid == os.getpid():
            self.start_afresh()
        else:
            self._pool = None


class Watchdog:
    """Cuts the connection of a transaction that overruns its deadline: shutting its socket
    down wakes the thread blocked on it, which then sees a broken connection (and the pool
    drops it). One thread per process, started on first use."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._due: list[tuple[float, int, Any]] = []
        self._live: set[int] = set()
        self._numbers = itertools.count()
        self._pid: int | None = None

    @contextmanager
    def deadline(self, connection: psycopg.Connection, seconds: float) -> Iterator[None]:
        number = next(self._numbers)
        with self._changed:
            self._start_here()
            heapq.heappush(self._due, (time.monotonic() + seconds, number, connection))
            self._live.add(number)
            self._changed.notify()
        try:
            yield
        finally:
            with self._changed:
                self._live.discard(number)

    def _start_here(self) -> None:
        if self._pid != os.getpid():
            self._pid, self._due, self._live = os.getpid(), [], set()
            threading.Thread(target=self._run, name="store-watchdog", daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._changed:
                while self._due and self._due[0][1] not in self._live:
                    heapq.heappop(self._due)  # finished in time
                if not self._due:
                    self._changed.wait()
                    continue
                when, number, connection = self._due[0]
                if when > time.monotonic():
                    self._changed.wait(when - time.monotonic())
                    continue
                heapq.heappop(self._due)
                self._live.discard(number)
            log.warning("event=store_deadline action=connection_cut")
            cut(connection)


def cut(connection: psycopg.Connection) -> None:
    """Shut the connection's socket down (a duplicate of its descriptor, so psycopg's own stays
    valid until it notices)."""
    try:
        duplicate = socket.socket(fileno=os.dup(connection.fileno()))
    except (OSError, psycopg.Error):
        return
    try:
        duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        duplicate.close()
