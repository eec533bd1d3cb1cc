"""Start the service exactly as the Procfile does, in a deploy-like folder, for end-to-end tests."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.helpers import EXAMPLE_RULES, ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def procfile_command() -> list[str]:
    line = (ROOT / "Procfile").read_text().strip()
    kind, _, command = line.partition(":")
    assert kind == "web"
    return shlex.split(command)


class Service:
    """The Procfile's web process with 2 workers; `stop()` sends SIGTERM like the platform."""

    def __init__(self, folder: Path, env: dict[str, str], log_path: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            # The venv's bin first, as on the platform where gunicorn is on the PATH.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HOME": os.environ.get("HOME", "/tmp"),
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "2",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def in_folder(cls, folder: Path, env: dict[str, str], rules: Path | None = None) -> Service:
        """A folder holding what a deploy holds: Procfile, gunicorn.conf.py and rules/ (the
        example rules unless `rules` names others)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("Procfile", "gunicorn.conf.py"):
            shutil.copy(ROOT / name, folder / name)
        if not (folder / "rules").exists():
            shutil.copytree(rules or EXAMPLE_RULES, folder / "rules")
        return cls(folder, env, folder / "service.log")

    def start(self, timeout: float = 20.0) -> Service:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            procfile_command(), cwd=self.folder, env=self.env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the service exited at start:\n{self.log()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code in (200, 503):
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError(f"the service did not answer within {timeout} s:\n{self.log()}")

    def post(self, form: dict[str, str]) -> requests.Response:
        return requests.post(self.url + "/webhooks/dashly", data=form, timeout=10)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        if sig == signal.SIGKILL:
            # kill -9 of every process: the master and its workers, as a crashed dyno.
            subprocess.run(["pkill", "-9", "-P", str(self.process.pid)], check=False)
        self.process.send_signal(sig)
        self.process.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
