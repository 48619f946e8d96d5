"""Evaluate a training run (rl-zoo's ``enjoy``): ``splitgym evaluate RUN_DIR``.

Finds the run (the folder itself, or the latest finished run under it) and hands it to the
training task of its env (``config.yaml``'s ``env.id``), which re-checks the export from its files
alone: for DistrEdge, the plan re-simulated from its JSON and the exported actor run on a fresh
env, next to the equal split and Offload; for DistrEdge-v1, the exported policy per instance of
its split or distribution (or ``--split``), next to the classical planners. Every failure names
the path it looked at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from splitgym.agents.tasks import get_task
from splitgym.costmodels.errors import SplitgymError

__all__ = ["find_run", "evaluate"]

_MARKERS = ("export/summary.json", "export/plan.json")  # either one: the run got to its export


def _finished(p: Path) -> bool:
    return any((p / m).exists() for m in _MARKERS)


def find_run(path: str | Path) -> Path:
    """``path`` if it is a finished run folder, else the most recent finished run below it."""
    p = Path(path)
    if not p.exists():
        raise SplitgymError(f"run: no such folder {str(p)!r}")
    if _finished(p):
        if not (p / "config.yaml").exists():
            raise SplitgymError(f"run {p}: incomplete, missing config.yaml")
        return p
    runs = {q.parent.parent for m in _MARKERS for q in p.glob(f"**/{m}")}
    if not runs:
        raise SplitgymError(f"run: no finished run (with export/summary.json) in {str(p)!r}")
    return find_run(max(runs, key=lambda q: (q / "export").stat().st_mtime))


def evaluate(path: str | Path, **options: Any) -> dict[str, Any]:
    """The run's task re-checks it; ``options`` (``split``, ``seeds``: DistrEdge-v1 and HiDP-v0
    runs) go to the tasks that name them in ``eval_options``, and are refused by the others."""
    run = find_run(path)
    try:
        cfg = OmegaConf.load(run / "config.yaml")
    except Exception as exc:  # omegaconf raises yaml's and its own errors
        raise SplitgymError(f"run {run}: config.yaml is not readable ({type(exc).__name__})") from None
    env_id = OmegaConf.select(cfg, "env.id", default="splitgym/DistrEdge-v0")
    task = get_task(str(env_id))
    given = {k: v for k, v in options.items() if v is not None}
    unknown = [k for k in given if k not in getattr(task, "eval_options", ())]
    if unknown:
        raise SplitgymError(f"--{unknown[0]}: not an option for a {env_id} run ({run})")
    return task.evaluate(run, cfg, **given)
