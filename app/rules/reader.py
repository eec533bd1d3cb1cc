"""What the readers of a rule's keys need of validation's RuleReader (one `[[rule]]` table):
its table, a way to say a problem at the key's line, and the common value readers."""

from __future__ import annotations

from typing import Any, Protocol


class RuleReader(Protocol):
    """What these readers need of validation's RuleReader (one `[[rule]]` table)."""

    table: dict[str, Any]
    failed: bool

    def problem(self, key: str | None, message: str) -> None: ...

    def strings(self, key: str, *, single_allowed: bool = False) -> list[str]: ...

    def boolean(self, key: str) -> bool: ...
