"""What a deploy builds: a venv from uv.lock alone (as Heroku's buildpack makes it) serves the
CLI, whose commands are registered by the installed project's entry points."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT


def uv_binary() -> str | None:
    local = ROOT / ".tools" / "bin" / "uv"
    return str(local) if local.exists() else shutil.which("uv")


def test_the_project_metadata_builds_without_deprecations() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert isinstance(project["license"], str)  # an SPDX expression, not a table
    assert (ROOT / project["license-files"][0]).exists()
    runtime = " ".join(project["dependencies"])
    assert "psycopg[binary]" in runtime  # Heroku's uv sync installs no extras


def test_a_venv_built_from_the_lock_alone_runs_the_cli(tmp_path: Path) -> None:
    uv = uv_binary()
    if uv is None:
        pytest.skip("needs uv (make installs it into .tools/)")
    source = tmp_path / "source"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, tracked):
        target = source / name.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name.decode()).is_file():
            shutil.copy2(ROOT / name.decode(), target)
    venv = tmp_path / "venv"
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    # As Heroku's Python buildpack installs a uv project: the lock as it is, no dev group.
    sync = ["sync", "--locked", "--no-default-groups", "--no-editable", "--quiet"]
    subprocess.run(
        [uv, *sync, "--python", sys.executable],
        cwd=source,
        env=env,
        check=True,
        timeout=300,
    )
    assert not (venv / "bin" / "pytest").exists()  # development tools stay out of a deploy
    # Run from elsewhere, so only the installed project can answer.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    checked = subprocess.run(
        [str(venv / "bin" / "flask"), "--app", "app", "rules", "check", str(source / "rules")],
        cwd=elsewhere,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip().endswith("files")
    assert "rules in" in checked.stdout


def test_the_heroku_button_makes_secrets_and_asks_only_for_the_api_key() -> None:
    app = json.loads((ROOT / "app.json").read_text())
    env = app["env"]
    assert env["DASHLY_WEBHOOK_TOKEN"]["generator"] == "secret"
    assert env["ADMIN_PASSWORD"]["generator"] == "secret"
    assert env["DASHLY_API_TOKEN"]["required"] is True
    assert any(a["plan"].startswith("heroku-postgresql") for a in app["addons"])
    # No release phase: it would fail a deploy exactly when the database is down.
    assert not any(
        line.startswith("release:") for line in (ROOT / "Procfile").read_text().splitlines()
    )
