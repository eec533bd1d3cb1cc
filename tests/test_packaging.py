"""What a deploy builds: a venv from uv.lock alone (as Heroku's buildpack makes it) serves the
CLI, whose commands are registered by the installed project's entry points."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.helpers import ROOT

# Builds a venv from the lock: left out of `make test-quick`.
pytestmark = pytest.mark.slow


def uv_binary() -> str | None:
    local = ROOT / ".tools" / "bin" / "uv"
    return str(local) if local.exists() else shutil.which("uv")


def test_the_project_metadata_builds_without_deprecations() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert isinstance(project["license"], str)  # an SPDX expression, not a table
    assert (ROOT / project["license-files"][0]).exists()
    runtime = " ".join(project["dependencies"])
    assert "psycopg[binary]" in runtime  # Heroku's uv sync installs no extras


def distribution(requirement: str) -> str:
    """A requirement's distribution name, normalised (PEP 503): `psycopg[binary]>=3` -> psycopg."""
    return re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]).lower()


def test_every_package_the_app_imports_is_declared_and_pinned_in_the_lock() -> None:
    imported = set()
    for module in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"app", "__future__"}
    providers = packages_distributions()
    needed = {distribution(name) for top in third_party for name in providers.get(top, [top])}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {distribution(requirement) for requirement in project["dependencies"]}
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    pinned = {distribution(p["name"]) for p in lock["package"] if "version" in p}
    assert "requests" in needed and "regex" in needed  # the walk found the imports
    assert needed - declared == set(), "imported by app/ but not in [project] dependencies"
    assert needed - pinned == set(), "imported by app/ but not pinned in uv.lock"
    # One lock file for Heroku's buildpack (docs/contract.md, set-up): a requirements.txt beside it
    # would clash.
    assert not (ROOT / "requirements.txt").exists()


def test_stemming_runs_on_the_declared_c_stemmers() -> None:
    """pystemmer is declared for snowballstemmer to hand its work to: matching stems every word
    of every message, and the pure-Python stemmers cost 30-70 µs a word."""
    import snowballstemmer

    assert type(snowballstemmer.stemmer("russian")).__module__ == "Stemmer"


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
        [
            str(venv / "bin" / "flask"),
            "--app",
            "app",
            "rules",
            "check",
            str(source / "tests" / "example_rules"),
        ],
        cwd=elsewhere,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip().endswith("files")
    assert "rules in" in checked.stdout


def test_the_heroku_button_makes_secrets_and_can_be_tried_without_the_api_key() -> None:
    app = json.loads((ROOT / "app.json").read_text())
    env = app["env"]
    assert env["DASHLY_WEBHOOK_TOKEN"]["generator"] == "secret"
    assert env["ADMIN_PASSWORD"]["generator"] == "secret"
    # Without a key the app is a dry run: answers logged, nothing sent (README, "With the button").
    assert env["DASHLY_API_TOKEN"]["required"] is False
    assert "dry run" in env["DASHLY_API_TOKEN"]["description"]
    assert env["DATABASE_POOL_SIZE"]["value"] == "2"
    assert any(a["plan"].startswith("heroku-postgresql") for a in app["addons"])
    # No release phase: it would fail a deploy exactly when the database is down.
    assert not any(
        line.startswith("release:") for line in (ROOT / "Procfile").read_text().splitlines()
    )
