"""gunicorn settings for a bench run: the project's own `gunicorn.conf.py` (its path in
BENCH_GUNICORN_CONF), plus a count of the requests each worker served, written at its exit to
BENCH_COUNTS/PID. A lock and an increment per request: nothing the figures would show."""

import os
import runpy
import threading
from pathlib import Path

_project = runpy.run_path(os.environ["BENCH_GUNICORN_CONF"])
globals().update({k: v for k, v in _project.items() if not k.startswith("__")})

_served = [0]
_lock = threading.Lock()
_project_exit = _project.get("worker_exit")


def post_request(worker, req, environ, resp):
    with _lock:
        _served[0] += 1


def worker_exit(server, worker):
    if _project_exit is not None:
        _project_exit(server, worker)
    Path(os.environ["BENCH_COUNTS"], str(os.getpid())).write_text(str(_served[0]))
