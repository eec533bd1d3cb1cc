"""The tree keeps its shape: layers by dependency direction, no import cycles, rooms of a
livable size. Read from the source, so a change that breaks the shape fails here."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

APP = ROOT / "app"
# What each part of the service may import from the rest of it (its own modules always).
# The flow: web → handling → rules/store; delivery → store, templates, Dashly client; nothing
# below imports anything above.
ALLOWED: dict[str, tuple[str, ...]] = {
    "app.text": (),
    "app.settings": (),
    "app.logs": (),
    "app.dashly": (),
    # The calls a queued item makes, and what a decision reads and makes: below the store.
    "app.actions": (),
    "app.replies": ("app.actions",),
    "app.store": ("app.actions", "app.replies"),
    # Similarity of texts (numpy and the bundled embedding model), shared by rules and insight.
    "app.similarity": (),
    # Rules know Dashly's documented channels (app.dashly.parts), nothing else of it.
    "app.rules": ("app.text", "app.similarity", "app.dashly.parts"),
    "app.handling": (
        "app.rules",
        "app.store",
        "app.actions",
        "app.replies",
        "app.dashly.parts",
        "app.text",
    ),
    "app.delivery": ("app.store", "app.actions", "app.rules.templates", "app.dashly.client"),
    "app.insight": ("app.store", "app.handling.decide", "app.rules", "app.text", "app.similarity"),
    # One process's state (settings, rules, store, handler, delivery) and the way to reach it.
    "app.runtime": (
        "app.settings",
        "app.rules.live",
        "app.store",
        "app.handling",
        "app.delivery",
        "app.dashly.client",
    ),
    "app.web": (
        "app.runtime",
        "app.handling",
        "app.insight",
        "app.rules",
        "app.store",
        "app.dashly.parts",
    ),
    "app.cli": ("app.settings", "app.rules", "app.store", "app.insight", "app.handling"),
    "app.grouping": ("app.insight.grouping",),
    "app.wsgi": ("app", "app.rules", "app.settings"),
    "app": ("app.",),  # the factory wires everything together
}
# What every part may use: logging is below everything.
BASE = ("app.logs", "app.text")
MAX_MODULE_LINES, MAX_CLASS_LINES, MAX_FUNCTION_LINES = 400, 250, 50


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def app_modules() -> dict[str, ast.Module]:
    return {
        module_name(path): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(APP.rglob("*.py"))
    }


def imports_of(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("app"))
    return found


def part_of(module: str) -> str:
    """The entry of ALLOWED a module belongs to: its package, or itself at the top."""
    return module if module == "app" else ".".join(module.split(".")[:2])


def may_import(part: str, target: str) -> bool:
    allowed = (*ALLOWED[part], *BASE)
    return any(target == a or target.startswith(a.rstrip(".") + ".") for a in allowed)


def test_each_part_imports_only_what_lies_below_it() -> None:
    modules = app_modules()
    wrong = []
    for name, tree in modules.items():
        part = part_of(name)
        assert part in ALLOWED, f"{name}: a new part of the tree; give it a place in ALLOWED"
        for target in imports_of(tree):
            # Names imported from a module, and sibling modules, are not parts of the tree.
            if target in modules and part_of(target) != part and not may_import(part, target):
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_no_module_imports_itself_through_others() -> None:
    modules = app_modules()
    graph = {
        name: {t for t in imports_of(tree) if t in modules and t != name and t != "app"}
        for name, tree in modules.items()
    }
    # A package's __init__ re-exports its modules: only edges between real modules count.
    graph = {n: {t for t in ts if not n.startswith(t + ".")} for n, ts in graph.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, node, target]))
            if target not in state:
                visit(target, [*path, node])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_rooms_stay_livable() -> None:
    too_big = []
    for path in sorted(APP.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        if source.count("\n") > MAX_MODULE_LINES:
            too_big.append(f"{where}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            limit = {ast.ClassDef: MAX_CLASS_LINES, ast.FunctionDef: MAX_FUNCTION_LINES}.get(
                type(node)
            )
            if limit and node.end_lineno - node.lineno + 1 > limit:  # type: ignore[attr-defined]
                too_big.append(f"{where}:{node.lineno}: {node.name} is over {limit} lines")  # type: ignore[attr-defined]
    assert too_big == []
