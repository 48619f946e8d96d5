"""``splitgym report SWEEP_DIR``: every job of a multirun (any sweeper or launcher) in one table,
CSV and plot: its overrides and its final results.

A job is a folder with ``.hydra/overrides.yaml`` (Hydra writes it for every launcher: basic,
joblib, submitit, Ray; an Optuna trial's parameters are overrides too); its results are its
``export/summary.json`` (what ``agents/train.py`` writes per run: ``objective``, the number a
sweep maximises, plus the training task's own figures). A job that never got to its export is a
row with ``status`` saying so, not a gap.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from splitgym.costmodels.errors import SplitgymError

__all__ = ["collect_jobs", "report_rows", "plot_report", "HEADLINE"]

#: the results the table shows when a job's summary has them (the CSV has every scalar): the
#: DistrEdge, NPTP and MS-MDI tasks' main comparisons
HEADLINE = (
    "latency_ms.learned_plan",
    "latency_ms",
    "speedup_vs_equal",
    "speedup_vs_best_classical",
    "speedup_vs_mpa",
    "learned_vs_best_reference",
    "episodes",
    "wall_s",
)


def _flat_results(summary: dict[str, Any]) -> dict[str, Any]:
    """Top-level scalars and one level of numeric dicts (``latency_ms.equal``)."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, bool | int | float | str):
            out[key] = value
        elif isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items() if isinstance(v, int | float)})
    return out


def _overrides(job: Path) -> dict[str, str]:
    items = OmegaConf.to_container(OmegaConf.load(job / ".hydra" / "overrides.yaml"))
    out = {}
    for item in items or []:  # type: ignore[union-attr]
        key, _, value = str(item).partition("=")
        out[key.lstrip("+~")] = value
    return out


def _job_key(job: Path, root: Path) -> tuple:
    parts = job.relative_to(root).parts
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def collect_jobs(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """One dict per job under ``sweep_dir``: ``job`` (its folder, relative), ``overrides``,
    ``results`` (flattened summary, empty when missing) and ``status``."""
    root = Path(sweep_dir)
    if not root.is_dir():
        raise SplitgymError(f"SWEEP_DIR: no such folder {str(root)!r}")
    jobs = sorted(
        (p.parent.parent for p in root.rglob(".hydra/overrides.yaml") if ".submitit" not in p.parts),
        key=lambda j: _job_key(j, root),
    )
    if not jobs:
        raise SplitgymError(f"SWEEP_DIR: no jobs in {str(root)!r} (no */.hydra/overrides.yaml: not a multirun folder)")
    out = []
    for job in jobs:
        path = job / "export" / "summary.json"
        results = _flat_results(json.loads(path.read_text())) if path.exists() else {}
        status = "done" if results else "no export/summary.json"
        if results.get("interrupted"):
            status = "interrupted"
        out.append(
            {
                "job": str(job.relative_to(root)) or ".",
                "overrides": _overrides(job),
                "results": results,
                "status": status,
            }
        )
    return out


def report_rows(
    jobs: list[dict[str, Any]], full: bool = False
) -> tuple[list[dict[str, Any]], dict[str, str], list[str]]:
    """Rows for the table (``full``: every override and result, for the CSV), the overrides every
    job shares (named once above the table instead of in a column) and those that vary. A result
    named like an override (``episodes``) is shown as ``result.<name>``."""
    keys = list(dict.fromkeys(k for j in jobs for k in j["overrides"]))
    shared = {
        k: jobs[0]["overrides"].get(k, "")
        for k in keys
        if len({j["overrides"].get(k) for j in jobs}) == 1 and k in jobs[0]["overrides"]
    }
    varying = [k for k in keys if k not in shared]
    if full:
        names = list(dict.fromkeys(k for j in jobs for k in j["results"]))
    else:
        names = [h for h in HEADLINE if any(h in j["results"] for j in jobs)]
    rows = []
    for j in jobs:
        row: dict[str, Any] = {"job": j["job"]}
        row.update({k: j["overrides"].get(k, "") for k in (keys if full else varying)})
        row["objective"] = j["results"].get("objective", "")
        row.update({(f"result.{n}" if n in row else n): j["results"].get(n, "") for n in names if n != "objective"})
        row["status"] = j["status"]
        rows.append(row)
    return rows, shared, varying


def _label(row: dict[str, Any], varying: list[str]) -> str:
    def short(v: Any) -> str:
        try:
            return f"{float(v):.3g}"
        except (TypeError, ValueError):
            return str(v)

    return "\n".join([f"job {row['job']}", *(f"{k.rsplit('.', 1)[-1]}={short(row[k])}" for k in varying)])


def plot_report(rows: list[dict[str, Any]], varying: list[str], path: Path, title: str) -> Path:
    """A bar per job of its objective, labelled by its varying overrides; the best one marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if isinstance(r["objective"], int | float)]
    labels = [_label(r, varying) for r in done]
    values = [float(r["objective"]) for r in done]
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(done) + 2), 4), dpi=100)
    colors = ["tab:green" if v == max(values, default=0) else "tab:blue" for v in values]
    ax.bar(range(len(done)), values, color=colors)
    ax.set_xticks(range(len(done)), labels, fontsize=7, rotation=30 if len(done) > 6 else 0)
    ax.set_ylabel("objective (what the sweep maximises)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
