"""Instructions per webhook, counted by valgrind: a figure this machine's drift cannot move.

    .venv/bin/python bench/instructions.py [REV ...]

Each design serves the live mix (bench/mix.py) in one process, the WSGI app called directly
with prebuilt requests, under `valgrind --tool=callgrind`, which counts the instructions the
process runs in user space. Two runs of different lengths, and the difference divided by the
webhooks between them, leave out start-up and warm-up. The kernel's share (a commit's fsync
above all) is not counted, so the database lives in /dev/shm to keep the runs short; the
service bench's "ours in memory" design prices the fsync. Timings on this VM drift by a third
from one run to the next; the same code gives the same count within about half a percent.

Designs: this service (the working tree, and each REV given), and a bare Flask endpoint.
Needs valgrind (Debian package `valgrind`); about two minutes per design.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 200
SHORT, LONG = 300, 1100  # webhooks measured in the two runs


def serve_mix(code: Path, design: str, count: int, token: str) -> None:
    """In the child, under valgrind: build the design's app and send it `count` webhooks."""
    from urllib.parse import urlencode

    sys.path.insert(0, str(ROOT))
    from bench.mix import webhook_forms  # every design gets the same mix

    sys.path.insert(0, str(code))  # and `app` comes from the design's own code
    folder = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        if design == "bare Flask":
            from bench.bare_app import app
        else:
            from app import create_app

            shutil.copytree(code / "rules", folder / "rules")
            (folder / "rules" / "90-fallback.toml").unlink()  # the mix's unanswered stay so
            settings = {
                "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
                "DASHLY_WEBHOOK_TOKEN": token,
                "RULES_DIR": str(folder / "rules"),
                "LOG_LEVEL": "WARNING",
                "START_BACKGROUND": False,  # no delivery: only the webhook's own work counts
            }
            app = create_app(settings)
        bodies = [urlencode(form).encode() for form in webhook_forms(WARM_UP + count, token)]
        for body in bodies:
            answer = app(_environ(body), lambda status, headers, exc_info=None: None)
            b"".join(answer)
            answer.close()
    finally:
        shutil.rmtree(folder)


def _environ(body: bytes) -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/webhooks/dashly",
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.1",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def count_instructions(code: Path, design: str, count: int, token: str) -> int:
    """Instructions of a whole child run, as callgrind reports them."""
    run = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--child",
            str(code),
            design,
            str(count),
            token,
        ],
        cwd=code,  # the design's own code first on the path
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : ([\d,]+)", run.stderr)
    if found is None:
        raise RuntimeError(f"no count from valgrind: {run.stderr[-500:]}")
    return int(found.group(1).replace(",", ""))


def per_webhook(code: Path, design: str, token: str) -> float:
    short = count_instructions(code, design, SHORT, token)
    long = count_instructions(code, design, LONG, token)
    return (long - short) / (LONG - SHORT)


def main() -> int:
    if shutil.which("valgrind") is None:
        print("bench/instructions.py needs valgrind: apt-get install valgrind")
        return 1
    print(
        f"instructions per webhook (valgrind, user space), {time.strftime('%Y-%m-%d %H:%M')}, "
        f"the live mix, one process, {LONG - SHORT} webhooks between two runs"
    )
    sys.path.insert(0, str(ROOT))
    from bench.service import TOKEN, export_revision

    with tempfile.TemporaryDirectory() as temp:
        designs = [("ours", ROOT)]
        designs += [(f"before {rev}", export_revision(rev, Path(temp))) for rev in sys.argv[1:]]
        designs.append(("bare Flask", ROOT))
        counts = {}
        for name, code in designs:
            design = "bare Flask" if name == "bare Flask" else "ours"
            counts[name] = per_webhook(code, design, TOKEN)
            print(f"  {name:<16} {counts[name]:>12,.0f}", flush=True)
    for name, value in counts.items():
        if name != "ours":
            print(f"  ours against {name}: {counts['ours'] / value:.2f}x")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        serve_mix(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(main())
