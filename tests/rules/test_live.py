"""Reloading rules from the folder: new, edited, broken and removed files."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

from app.rules import load_rules
from app.rules.live import LiveRules
from tests.helpers import write_rules

UTC = ZoneInfo("UTC")


def touch_later(path: Path) -> None:
    """Move the file's modification time on, as a later edit would."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_an_edit_takes_effect_a_broken_one_is_kept_out_and_reported(tmp_path: Path) -> None:
    path = write_rules(tmp_path, '[[rule]]\nid = "a"\nphrases = ["x"]\nanswer = "1"\n')
    live = LiveRules(tmp_path, UTC, load_rules(tmp_path))
    assert not live.refresh()  # nothing changed

    write_rules(tmp_path, '[[rule]]\nid = "b"\nphrases = ["y"]\nanswer = "2"\n', "more.toml")
    assert live.refresh()
    assert [r.id for r in live.current.rules] == ["b", "a"]  # more.toml < rules.toml

    path.write_text('[[rule]]\nid = "a"\nphrases = ["x"]\nanswr = "1"\n')
    touch_later(path)
    assert not live.refresh()
    assert [r.id for r in live.current.rules] == ["b", "a"]  # more.toml < rules.toml
    assert f"{path}:4: rule 'a': unknown key 'answr'" in live.error

    path.unlink()
    assert live.refresh()
    assert ([r.id for r in live.current.rules], live.error) == (["b"], None)
