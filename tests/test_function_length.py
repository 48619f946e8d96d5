"""No function is longer than a screenful and a half (80 lines), so each one can be read whole.

A long function hides its steps: the planners should read top to bottom like a CleanRL file, with
each step's detail in a helper whose name says what it does. Counted from the ``def`` line to the
last line of the body (decorators aside), nested functions and methods included, over every
module of the layers (costmodels, executors, envs, agents, experiments).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["costmodels", "executors", "envs", "agents", "experiments"]
MAX_LINES = 80


def _too_long(path: Path, limit: int = MAX_LINES) -> list[str]:
    """``path:function (N lines)`` for every function or method in ``path`` over ``limit`` lines;
    a method or nested function is named by its dotted path (``Class.method``), so it can be found."""
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    out: list[str] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    n = (child.end_lineno or child.lineno) - child.lineno + 1
                    if n > limit:
                        out.append(f"{rel}:{name} ({n} lines)")
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(), str(path)), "")
    return out


def test_no_function_is_longer_than_80_lines():
    paths = sorted(p for top in LAYERS for p in (ROOT / top).rglob("*.py"))
    assert paths, "no modules found: is ROOT the repository?"
    offenders = [o for p in paths for o in _too_long(p)]
    assert offenders == [], f"functions over {MAX_LINES} lines (split them into named steps):\n" + "\n".join(offenders)


def test_the_length_check_counts_def_to_last_line(tmp_path):
    probe = tmp_path / "probe.py"
    body = "".join(f"    x{i} = {i}\n" for i in range(80))
    probe.write_text(
        f"def long():\n{body}\n\ndef short():\n    return 1\n\n"
        f"class C:\n    def method(self):\n{body.replace('    ', '        ')}"
    )
    assert _too_long(probe) == [f"{probe}:long (81 lines)", f"{probe}:C.method (81 lines)"]
    assert _too_long(probe, limit=81) == []
