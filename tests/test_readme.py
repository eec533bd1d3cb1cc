"""The README shows what the program prints: each output block marked `<!-- output: COMMAND -->`
is compared with what COMMAND prints today (timings and ids normalised), run in a folder laid
out as a clone is, with the example rules as shipped (tests/example_rules) as its rules/."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE_RULES, ROOT

MARKED = re.compile(r"<!-- output: (?P<command>.+?) -->\n```[a-z]*\n(?P<shown>.*?)```", re.S)
# Numbers that change from run to run.
VARYING = [(re.compile(r"ms=\d+(\.\d+)?"), "ms=N"), (re.compile(r"pid=\d+"), "pid=N")]


def normalised(text: str) -> str:
    for pattern, replacement in VARYING:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def marked_blocks() -> list[tuple[str, str]]:
    """The marked blocks of the README and of the docs it links to."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    text = "\n".join(page.read_text(encoding="utf-8") for page in pages)
    return [(m["command"], m["shown"]) for m in MARKED.finditer(text)]


def test_the_readme_marks_its_output_blocks() -> None:
    assert len(marked_blocks()) >= 3


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the README's commands read: rules/ (the shipped examples, whatever the owner has
    made of this clone's rules/) and docs/examples; the code comes from PYTHONPATH."""
    folder = tmp_path_factory.mktemp("clone")
    shutil.copytree(EXAMPLE_RULES, folder / "rules")
    shutil.copytree(ROOT / "docs" / "examples", folder / "docs" / "examples")
    return folder


@pytest.mark.parametrize(("command", "shown"), marked_blocks())
def test_an_output_block_is_what_the_command_prints(command: str, shown: str, clone: Path) -> None:
    argv = shlex.split(command)
    if argv[0].startswith(".venv/bin/"):  # this venv's programs, wherever it is
        argv[0] = str(Path(sys.executable).parent / Path(argv[0]).name)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RULES_DIR": "rules",
        "DATABASE_URL": "",
        "BOT_TIMEZONE": "UTC",
    }
    ran = subprocess.run(argv, cwd=clone, env=env, capture_output=True, text=True, timeout=60)
    printed = ran.stdout + ran.stderr
    expected = "\n".join(line for line in shown.splitlines() if not line.startswith("$ "))
    assert normalised(printed) == normalised(expected)
