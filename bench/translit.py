"""How well Russian written in Latin letters is told from English: the share of
bench/translit/russian_in_latin.txt told Russian (target >= 90 %), and the share of English
messages told Russian (target <= 0.5 %): BANKING77's test split (from a folder given on the
command line) and the project's English questions (bench/meaning, bench/understanding).

    .venv/bin/python bench/translit.py ../shared/data/banking77
"""

from __future__ import annotations

import csv
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.rules.translit import is_russian_in_latin, to_cyrillic  # noqa: E402
from app.text import fold, normalise  # noqa: E402


def told(messages: list[str]) -> list[str]:
    return [m for m in messages if is_russian_in_latin(fold(normalise(m)))]


def project_english() -> list[str]:
    found = []
    for path in sorted((ROOT / "bench" / "meaning").glob("en-*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for intent in data["intent"]:
            found += intent["examples"] + intent["held_out"] + intent["phrases"]
        found += data["unrelated"]
    for path in sorted((ROOT / "bench" / "understanding").glob("*.toml")):
        cases = tomllib.loads(path.read_text(encoding="utf-8"))["case"]
        found += [case["text"] for case in cases if case["text"].isascii()]
    return [text for text in found if text.strip()]


def main(banking77: Path) -> None:
    lines = (ROOT / "bench" / "translit" / "russian_in_latin.txt").read_text(encoding="utf-8")
    russian = [line for line in lines.splitlines() if line.strip() and not line.startswith("#")]
    with (banking77 / "test.csv").open(encoding="utf-8") as rows:
        banking = [row["text"] for row in csv.DictReader(rows)]
    english = project_english()
    found = told(russian)
    print(
        f"Russian in Latin letters told Russian: {len(found)} of {len(russian)} "
        f"({len(found) / len(russian):.1%}, target >= 90 %)"
    )
    for miss in sorted(set(russian) - set(found)):
        print(f"  missed: {miss!r}")
    for name, messages in (("BANKING77 test", banking), ("the project's English", english)):
        wrong = told(messages)
        print(
            f"{name} told Russian: {len(wrong)} of {len(messages)} "
            f"({len(wrong) / max(len(messages), 1):.2%}, target <= 0.5 %)"
        )
        for text in wrong:
            print(f"  {text!r} -> {to_cyrillic(fold(normalise(text)))!r}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench/translit.py BANKING77_FOLDER")
    main(Path(sys.argv[1]))
