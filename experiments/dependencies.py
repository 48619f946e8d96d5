"""The source paths a results row depends on, found from the command that made it.

How a row's dependencies are known, and why this way: the row records its command
(``python -m splitgym.experiments.nptp_tables all``), the command names a module, and the
module's dependencies are

- the package's source folders (``costmodels``, ``envs``, ``agents``, ``executors``, ``conf``),
  or the narrower tuple the module declares as a top-level ``DEPENDS = (...)``: these folders
  import each other densely (a planner reaches the simulator, the boards, the YAML groups), so a
  finer map would be guessed, and a guessed map that misses a path carries a wrong row silently,
  while one too wide only costs a re-run;
- the ``experiments/`` modules it imports, followed transitively through its source (the AST, not
  an import: checking 100 CSVs must not load torch), so a change to ``bench_cli.py`` does not make
  NPTP's rows stale, but a change to ``distredge_tables.py`` makes the thesis's stale.

A command that names no module of the package (a test's ``pytest ...``, a shell) depends on every
source folder and all of ``experiments/``. A training run launched as ``python -m
splitgym.agents.train`` depends on the source folders only.
"""

from __future__ import annotations

import ast
import functools
import shlex
from pathlib import Path

from splitgym.costmodels.provenance import REPO, SOURCE

__all__ = ["SOURCE", "module_of", "paths_of"]

PREFIX = "splitgym.experiments."


def module_of(command: str) -> str | None:
    """The module a command line runs: ``python -m X`` -> X; ``splitgym ...`` -> the CLI."""
    try:
        words = shlex.split(str(command))
    except ValueError:
        return None
    if "-m" in words[:-1]:
        return words[words.index("-m") + 1]
    if words and Path(words[0]).name == "splitgym":
        return "splitgym.experiments.cli"
    return None


def _file(module: str, repo: Path) -> Path | None:
    rel = module.removeprefix("splitgym.").replace(".", "/")
    for path in (repo / f"{rel}.py", repo / rel / "__init__.py"):
        if path.exists():
            return path
    return None


def _imports(tree: ast.Module) -> set[str]:
    """The ``splitgym.experiments.*`` modules a file imports, anywhere in it (lazy ones too)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith(PREFIX):
                found.add(node.module)
            elif node.module == PREFIX.rstrip("."):
                found.update(PREFIX + a.name for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(PREFIX))
    return found


def _declared(tree: ast.Module) -> tuple[str, ...] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DEPENDS" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    return None


@functools.cache
def paths_of(module: str | None, repo: Path = REPO) -> tuple[str, ...]:
    """Repository paths (folders and files) the rows made by ``module`` depend on."""
    if module is None or not module.startswith("splitgym."):
        return (*SOURCE, "experiments")
    if not module.startswith(PREFIX):
        return SOURCE
    source: tuple[str, ...] | None = None
    files: set[str] = set()
    todo = [module]
    while todo:
        path = _file(todo.pop(), repo)
        if path is None or str(path.relative_to(repo)) in files:
            continue
        files.add(str(path.relative_to(repo)))
        tree = ast.parse(path.read_text())
        if source is None:  # the module itself declares; what it imports does not widen it
            source = _declared(tree) or SOURCE
        todo.extend(_imports(tree))
    return (*(source or SOURCE), *sorted(files))
