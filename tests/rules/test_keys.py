"""One table of rule keys (app/rules/keys.py): the reference in docs/rules.md is generated
from it, and every key in it is validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.rules import RulesError, load_rules
from app.rules.keys import KNOWN_KEYS, TABLE_END, TABLE_START, reference_table
from tests.helpers import ROOT, write_rules


def test_the_reference_in_docs_is_the_table() -> None:
    page = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    shown = page.partition(TABLE_START)[2].partition(TABLE_END)[0]
    assert shown == reference_table(), "docs/rules.md differs from app/rules/keys.py: make docs"


@pytest.mark.parametrize("key", KNOWN_KEYS)
def test_every_key_of_the_table_is_checked(key: str, tmp_path: Path) -> None:
    """A value of the wrong kind for any key is a problem naming that key: a key in the table
    that validation never read would load silently."""
    keys = {"id": '"k"', "phrases": '["hello"]', "answer": '"hi"', key: "{ x = [1] }"}
    write_rules(tmp_path, "[[rule]]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()))
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path)
    assert any(f"'{key}'" in problem for problem in caught.value.problems), caught.value.problems
