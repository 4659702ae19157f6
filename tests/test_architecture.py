"""The house's rules, read from the code: rooms import only rooms below them, no circles, short units.

Rooms are the folders of `src/denial_risk/` (and its few top-level modules), in
the order of `LAYERS`, lowest first; docs/architecture.md draws the same map.
Every import counts, including the lazy ones inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "denial_risk"

# Lowest first. A room may import its own modules and the rooms of earlier layers only.
LAYERS = [
    {"errors"},
    {"contract"},
    {"tableio"},
    {"claims", "biller"},
    {"features", "x12", "rework"},
    {"modeling", "synth"},
    {"scoring", "report"},
    {"registry"},
    {"jobs"},
    {"testing"},
    {"commands"},
    {"cli"},
]
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(room: str) -> int:
    if room == "__init__":
        return -1
    for i, rooms in enumerate(LAYERS):
        if room in rooms:
            return i
    raise AssertionError(f"room {room!r} is in no layer of tests/test_architecture.py: place it")


def _resolve(target: str) -> str | None:
    """The module an import names (`denial_risk.contract.schema`), or None outside the package."""
    if not target.startswith("denial_risk"):
        return None
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for n in names:
            target = _resolve(n)
            if target and target != module:
                found.add(target)
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def test_every_room_is_placed():
    for module in MODULES:
        _layer(_room(module))


def test_rooms_import_only_rooms_below_them():
    upward = []
    for module, targets in GRAPH.items():
        room = _room(module)
        for t in targets:
            other = _room(t)
            if other != room and other != "__init__" and _layer(other) >= _layer(room):
                upward.append(f"{module} -> {t}")
    assert not upward, "imports that do not go downhill:\n" + "\n".join(sorted(upward))


def test_no_circle_between_modules():
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(GRAPH.get(m, ())):
            if state.get(t) == 1:
                circles.append(stack[stack.index(t) :] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)
    assert not circles, "circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_product_code_never_imports_the_test_helpers():
    users = [
        m
        for m, targets in GRAPH.items()
        if _room(m) != "testing" and any(_room(t) == "testing" for t in targets)
    ]
    assert not users


@pytest.mark.parametrize("module", sorted(MODULES))
def test_short_modules_and_functions(module):
    path = MODULES[module]
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"{module}: {text.count(chr(10))} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{module}: " + ", ".join(long)


def test_the_architecture_doc_names_every_module_and_no_other():
    """docs/architecture.md is the map: every module is in it, and every module it names exists."""
    import re

    doc = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([a-z_][a-z_0-9]*(?:/[a-z_0-9]+)*\.py)`", doc))
    files = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    files = {
        f for f in files if not f.startswith("commands/")
    }  # the commands are listed by `denial-risk --help`
    assert not files - named, f"modules missing from docs/architecture.md: {sorted(files - named)}"
    ghosts = {n for n in named if not n.startswith("tests/") and not (PACKAGE / n).exists()}
    assert not ghosts, f"docs/architecture.md names modules that do not exist: {sorted(ghosts)}"
