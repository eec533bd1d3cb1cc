"""The rules in force, reloaded when the files change; a broken edit keeps the last good rules."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from app.rules.matching import RuleSet
from app.rules.model import RulesError
from app.rules.reading import load_rules

log = logging.getLogger(__name__)

# Well inside the 5 seconds docs/contract.md promises (Rules); one directory listing per check.
CHECK_INTERVAL_SECONDS = 1.5
# A change is loaded only once the folder stays the same this long: an editor that truncates a
# file and then writes it must not be caught half-way (an empty file is valid and has no rules).
SETTLE_SECONDS = 0.25


def folder_signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, modification times and sizes of the rule files: changes when any file does."""
    try:
        return tuple(
            sorted(
                (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in directory.glob("*.toml")
            )
        )
    except OSError:
        return ()


class LiveRules:
    """Holds the current RuleSet; `refresh()` reloads it when the folder changed."""

    def __init__(self, directory: Path, zone: ZoneInfo, rules: RuleSet) -> None:
        self.directory = directory
        self.zone = zone
        self.current = rules
        self.error: str | None = None
        self._signature = folder_signature(directory)
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Reload if the files changed; True when new rules took effect."""
        with self._lock:
            signature = folder_signature(self.directory)
            if signature == self._signature:
                return False
            time.sleep(SETTLE_SECONDS)
            if folder_signature(self.directory) != signature:
                return False  # still being written: look again at the next check
            self._signature = signature
            try:
                rules = load_rules(self.directory, self.zone, self.current.min_similarity)
            except RulesError as error:
                return self._kept(error.problems)
            except Exception as error:  # whatever the edit broke, the last good rules stay
                return self._kept([f"{self.directory}: the rules could not be read: {error!r}"])
            self.current, self.error = rules, None
            log.info("event=rules_reloaded rules=%d files=%d", len(rules), len(rules.files))
            return True

    def _kept(self, problems: list[str]) -> bool:
        self.error = "\n".join(problems)
        for problem in problems:
            log.error("event=rules_reload_failed problem=%r", problem)
        log.error("event=rules_kept rules=%d", len(self.current))
        return False

    def watch(self, stop: threading.Event) -> None:
        """Check the folder until `stop` is set (run in a daemon thread per worker)."""
        while not stop.wait(CHECK_INTERVAL_SECONDS):
            try:
                self.refresh()
            except Exception:  # a watcher that dies silently would freeze the rules
                log.exception("event=rules_watch_failed")
