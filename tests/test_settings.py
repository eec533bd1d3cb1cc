"""Where the settings come from: `.env`, then the environment, then what the factory is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import read_environment


def test_dotenv_is_read_under_the_environment_and_skipped_as_flask_skips_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("BOT_TIMEZONE=Europe/Moscow\nLOG_LEVEL=DEBUG\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.delenv("BOT_TIMEZONE", raising=False)
    monkeypatch.delenv("FLASK_SKIP_DOTENV")
    read = read_environment({"MATCH_MIN_SIMILARITY": 0.5})
    assert (read["BOT_TIMEZONE"], read["LOG_LEVEL"]) == ("Europe/Moscow", "WARNING")
    assert read["MATCH_MIN_SIMILARITY"] == "0.5"
    # The tests run with it (tests/conftest.py), so an owner's .env changes no test result.
    monkeypatch.setenv("FLASK_SKIP_DOTENV", "1")
    assert "BOT_TIMEZONE" not in read_environment()
