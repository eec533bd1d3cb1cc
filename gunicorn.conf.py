"""gunicorn settings for the web dyno (and `make run`). Every value says why it has that value."""

import contextlib
import os
import socket
import threading
import time
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

# Heroku gives the port in $PORT and routes to all interfaces; locally `make run` binds 127.0.0.1.
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# Heroku sets WEB_CONCURRENCY from the dyno's memory; 2 suits the smallest dyno.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))

# GUNICORN_THREADS is documented in the README; 4 keeps a worker's database pool (2) busy.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))


# A request's line, headers and body must all arrive within this many seconds of its connection
# reaching a thread. Dashly and Heroku's router send a request in one go (the router buffers
# it), so a legitimate one takes milliseconds; a client that sends part of a request and stops
# would otherwise hold a request thread until it gives up (gunicorn has no read deadline), and
# four of them held all of a worker's threads. Past it, the connection's read side is shut: the
# thread reads the end of the stream at once and answers 400 (or closes a connection that sent
# nothing). A response being written is not affected.
REQUEST_READ_SECONDS = 2.0


class SharingThreadWorker(ThreadWorker):
    """gunicorn's gthread worker (threads suit a service that mostly waits on the database;
    the Dashly calls run in each worker's delivery thread), with two changes.

    It keeps at most `threads` idle keep-alive connections. The workers accept
    from one shared socket and a connection stays with the worker that took it: after a boot,
    the router's first connections all went to the first worker up, which then did all the work
    on one core in most bench runs. A worker holding more idle connections than that answers
    with `Connection: close` (the router then never reuses a connection being closed) and the
    client's next connection goes to whichever worker accepts it. gunicorn's own knob,
    `worker_connections`, also stops accepting at that count, so a burst of more connections
    would wait in the backlog (p99 3.3 s at 40 connections): this keeps accepting. It sets
    gthread's `max_keepalived` (gunicorn 27, pinned in uv.lock; tests/test_service.py checks it
    is still read).

    And a request gets REQUEST_READ_SECONDS to arrive: the worker's loop, which wakes at least
    every second, shuts the read side of a connection whose thread has had it for longer."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.max_keepalived = self.cfg.threads
        # The connections request threads hold, each with its read deadline.
        self.read_deadlines: dict[TConn, float] = {}
        self.read_deadlines_lock = threading.Lock()

    def handle(self, conn: TConn) -> object:
        with self.read_deadlines_lock:
            self.read_deadlines[conn] = time.monotonic() + REQUEST_READ_SECONDS
        try:
            return super().handle(conn)
        finally:
            with self.read_deadlines_lock:
                self.read_deadlines.pop(conn, None)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        # Under the lock, so a connection is never cut after its thread gave it back to the
        # keep-alive poller (a request the router sends on it would be lost).
        with self.read_deadlines_lock:
            late = [conn for conn, deadline in self.read_deadlines.items() if deadline <= now]
            for conn in late:
                del self.read_deadlines[conn]
                with contextlib.suppress(OSError):  # already closed by its thread
                    conn.sock.shutdown(socket.SHUT_RD)


worker_class = SharingThreadWorker

# Load the app (and validate the rules) once in the master: broken rules stop the start with
# their file:line messages instead of every worker failing, and workers share the compiled rules.
preload_app = True

# Heroku's router gives up after 30 s; a request of ours takes milliseconds, so 20 s only
# catches a stuck worker.
timeout = 20

# Heroku sends SIGKILL 30 s after SIGTERM: finish in-flight requests and due replies before.
graceful_timeout = 25

# Longer than the router's 90 s idle keep-alive, so gunicorn never closes a connection that
# the router is about to reuse.
keepalive = 95

# The router already logs every request; our own log has one line per webhook decision.
accesslog = None
errorlog = "-"

# gunicorn's own lines in the service's shape (`pid=N at=INFO source=gunicorn msg=...`), without
# a second timestamp: the platform stamps every line.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "pid=%(process)d at=%(levelname)s source=gunicorn msg=%(message)s"}
    },
    "handlers": {
        # gunicorn's own default names, so that its defaults for root and access find them.
        name: {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"}
        for name in ("console", "error_console")
    },
    "root": {"level": "WARNING", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"handlers": ["error_console"], "level": "INFO", "propagate": False},
        # No access lines: the router logs every request already.
        "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
}

# Trust X-Forwarded-* from Heroku's router (the only thing that can reach a dyno).
forwarded_allow_ips = "*"

# gunicorn's control socket (for `gunicornc`) is not used here, and one fixed path would clash
# between two services on one machine.
control_socket_disable = True


def _runtime(worker: ThreadWorker) -> Any:
    """The service's runtime in this worker (None for another app under this config, such as
    the bench's bare Flask: importing `app.runtime` here would load the service into it)."""
    # "autoresponder" is app.runtime.EXTENSION.
    return getattr(getattr(worker, "wsgi", None), "extensions", {}).get("autoresponder")


def post_worker_init(worker: ThreadWorker) -> None:
    """Start delivery and the rules watcher in each worker, after the fork."""
    if (runtime := _runtime(worker)) is not None:
        runtime.start_background()


def worker_exit(server: object, worker: ThreadWorker) -> None:
    """On shutdown, send what is due within the graceful timeout."""
    if (runtime := _runtime(worker)) is not None:
        runtime.stop_background(drain_seconds=graceful_timeout - 5)
