"""The house's layout: imports run one way, module names never repeat, every package is packaged.

The order is experiments -> agents -> envs -> executors -> costmodels: a module may import its own
layer or a lower one, never a higher one, at module level or inside a function alike. That keeps
the cost models usable without torch.distributed or SB3, the executors without Gymnasium, and the
envs without the planners that are judged on them.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["costmodels", "executors", "envs", "agents", "experiments"]


def _modules() -> list[Path]:
    return sorted(p for top in LAYERS + ["conf"] for p in (ROOT / top).rglob("*.py"))


def _imported(path: Path) -> set[str]:
    """Every ``splitgym.*`` module a file imports, anywhere in it."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in out if m.startswith("splitgym.")}


def _upward(path: Path) -> list[str]:
    top = path.relative_to(ROOT).parts[0]
    rank = LAYERS.index(top) if top in LAYERS else -1
    return sorted(m for m in _imported(path) if m.split(".")[1] in LAYERS and LAYERS.index(m.split(".")[1]) > rank)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_one_way(path):
    assert _upward(path) == [], f"{path.relative_to(ROOT)} imports a higher layer (order: {' <- '.join(LAYERS)})"


def test_the_direction_check_sees_a_function_level_import(tmp_path):
    bad = ROOT / "executors" / "_probe_upward.py"
    bad.write_text("def f():\n    from splitgym.agents.planners import PLANNERS\n    return PLANNERS\n")
    try:
        assert _upward(bad) == ["splitgym.agents.planners", "splitgym.agents.planners.PLANNERS"]
    finally:
        bad.unlink()


def test_no_two_modules_share_a_name():
    names = Counter(p.name for p in _modules() if p.name != "__init__.py")
    assert [n for n, c in names.items() if c > 1] == []


def test_every_package_folder_is_packaged():
    import importlib.util

    spec = importlib.util.spec_from_file_location("_splitgym_setup", ROOT / "setup.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # not __main__: setup() does not run
    found = set(mod.packages())
    folders = {"splitgym." + ".".join(p.parent.relative_to(ROOT).parts) for p in _modules() if p.name == "__init__.py"}
    assert folders <= found and "splitgym.costmodels.volumes" in found
