"""Reading rule files: every `*.toml` of a folder, TOML errors turned into file:line problems."""

from __future__ import annotations

import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo

import regex

from app.rules.building import build_rule_set
from app.rules.matching import RuleSet
from app.rules.model import Rule, RulesError, Source
from app.rules.validation import RuleReader, key_line

_RULE_HEADER = regex.compile(r"^[ \t]*\[\[[ \t]*rule[ \t]*\]\]", regex.M)
_TOML_POSITION = regex.compile(r"\(at (?:line (\d+), column \d+|end of document)\)")
# A dotted key nests a table per part, and TOML's reader takes time and memory that grow with
# the square of the parts (20,000 parts: seconds and gigabytes); rules need two or three.
MAX_KEY_PARTS = 32
_KEY_PART = r"""(?:[A-Za-z0-9_-]++|"[^"\n]*+"|'[^'\n]*+')"""
# Each run of dotted parts once, left to right, never backtracking: linear in the text.
_DOTTED = regex.compile(rf"{_KEY_PART}(?:[ \t]*+(\.)[ \t]*+{_KEY_PART})*+[ \t]*+([=\]]?)")


def load_rules(
    directory: str | Path,
    default_timezone: ZoneInfo | None = None,
    min_similarity: float | None = None,
) -> RuleSet:
    """Read every `*.toml` in `directory` in name order; raise RulesError listing all problems.
    `min_similarity` (MATCH_MIN_SIMILARITY) overrides the calibrated example threshold."""
    folder = Path(directory)
    if not folder.is_dir():
        raise RulesError([f"{folder}: rules folder not found"])
    paths = sorted(folder.glob("*.toml"))
    if not paths:
        raise RulesError([f"{folder}: no *.toml rule files"])
    problems: list[str] = []
    rules: list[Rule] = []
    first_seen: dict[str, Source] = {}
    for path in paths:
        for rule in _load_file(path, problems):
            if rule.id in first_seen:
                problems.append(
                    f"{rule.source}: rule {rule.id!r}: duplicate id, first defined at "
                    f"{first_seen[rule.id]}"
                )
                continue
            first_seen[rule.id] = rule.source
            rules.append(rule)
    if problems:
        raise RulesError(problems)
    return build_rule_set(
        rules, [str(p) for p in paths], default_timezone or ZoneInfo("UTC"), min_similarity
    )


def _load_file(path: Path, problems: list[str]) -> list[Rule]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"{path}:1: cannot read the file: {error}")
        return []
    for dotted in _DOTTED.finditer(text):
        if len(dotted.captures(1)) >= MAX_KEY_PARTS and dotted.group(2):
            line = text.count("\n", 0, dotted.start()) + 1
            problems.append(f"{path}:{line}: a dotted key of over {MAX_KEY_PARTS} parts")
            return []
    try:
        document = tomllib.loads(text)
    except (RecursionError, MemoryError):
        problems.append(f"{path}:1: brackets or tables nested too deeply to read")
        return []
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _TOML_POSITION.search(message)
        last_line = str(len(text.splitlines()) or 1)
        line = (position.group(1) or last_line) if position else "1"
        said = _TOML_POSITION.sub("", message).strip()
        problems.append(f"{path}:{line}: {in_plain_words(said, text, int(line))}")
        return []
    for key in document:
        if key != "rule":
            problems.append(
                f"{path}:{key_line(text, key, 0)}: unknown top-level key {key!r}; "
                "write rules as [[rule]] tables"
            )
    tables = document.get("rule", [])
    if not isinstance(tables, list):
        problems.append(f"{path}:1: 'rule' must be written as [[rule]] tables")
        return []
    headers = _header_lines(text)
    rules = []
    for number, table in enumerate(tables):
        line = headers[number] if number < len(headers) else 1
        next_line = headers[number + 1] if number + 1 < len(headers) else None
        reader = RuleReader(path, text, line, next_line, table, problems)
        rule = reader.read()
        if rule is not None:
            rules.append(rule)
    return rules


# What tomllib says, and what the owner most likely did and how to fix it.
_PLAIN_WORDS = (
    (
        "Unescaped '\\' in a string",
        "a backslash in double quotes starts an escape (\\n, \\t); write patterns in single "
        "quotes, where a backslash stays as written: '\\s+'",
    ),
    (
        "Cannot declare ('rule',) twice",
        "[rule] appears twice: write every rule as [[rule]], with two brackets",
    ),
    ("Cannot overwrite a value", "a key is set twice in one rule: keep one"),
    ("Cannot declare", "a table is declared twice: write every rule as [[rule]]"),
    ("Unterminated string", "a string is not closed: add the closing quote"),
    (
        "Illegal character '\\n'",
        "a string is not closed on its line: add the closing quote (an answer of several "
        'lines goes in triple quotes: answer = """...""")',
    ),
)
_CURLY_QUOTES = "\u201c\u201d\u201e\u2018\u2019\u00ab\u00bb"


def in_plain_words(said: str, text: str, line: int) -> str:
    """A TOML syntax error as the owner can act on it, with TOML's own words after."""
    lines = text.splitlines()
    here = lines[line - 1] if 0 < line <= len(lines) else ""
    curly = [ch for ch in here if ch in _CURLY_QUOTES]
    if curly:
        return (
            f"{curly[0]!r} is a typographic quote: TOML strings need straight quotes, "
            f"\"...\" or '...' (TOML syntax: {said})"
        )
    for start, plain in _PLAIN_WORDS:
        if said.startswith(start):
            return f"{plain} (TOML syntax: {said})"
    return f"TOML syntax: {said}"


def _header_lines(text: str) -> list[int]:
    """The line of each `[[rule]]` header, counting newlines once through the file."""
    lines, line, last = [], 1, 0
    for header in _RULE_HEADER.finditer(text):
        line += text.count("\n", last, header.start())
        last = header.start()
        lines.append(line)
    return lines
