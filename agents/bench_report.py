"""The benchmark's aggregates (rliable: IQM and mean with stratified-bootstrap CIs) and its
files: a CSV of every (target, seed, instance), a Markdown table and a PNG of the intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from splitgym.costmodels.atomic import atomic_csv, atomic_write
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.provenance import SOURCE, UNKNOWN, read_run_provenance, stamp_rows
from splitgym.envs.splits import Split

__all__ = ["aggregate", "write_outputs", "markdown"]

REPS = 2000  # bootstrap resamples (rliable's default is 50,000; 2,000 keeps a run in seconds)
GROUPS = ("none", "model", "cluster", "bandwidth")  # held-out axes of a split ("none": in distribution)


def _rliable() -> tuple[Any, Any, Any]:
    try:
        from rliable import library, metrics, plot_utils
    except ImportError as exc:
        raise ConfigError(f"benchmark: needs rliable (pip install -e '.[eval]'): {exc}") from None
    return library, metrics, plot_utils


def aggregate(results: list[Any], ref: np.ndarray, split: Split) -> list[dict[str, Any]]:
    """Per target: IQM and mean of the normalised score with 95% CIs over seeds (on the instances
    every seed played), the mean score per held-out group and the median latency."""
    library, metrics, _ = _rliable()
    out = []
    for res in results:
        score = ref[None, :] / res.latency
        played = ~np.isnan(score).any(axis=0)
        m = score[:, played]

        def both(x: np.ndarray) -> np.ndarray:
            return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])

        point, interval = library.get_interval_estimates(
            {res.name: m}, both, reps=REPS, random_state=np.random.RandomState(0)
        )
        tags = ["+".join(t) or "none" for t in split.held_out]
        row: dict[str, Any] = {
            "target": res.name,
            "evals/instance": res.evals_per_instance,
            "seeds": len(res.seeds),
            "instances": int(played.sum()),
            "IQM": float(point[res.name][0]),
            "IQM_lo": float(interval[res.name][0, 0]),
            "IQM_hi": float(interval[res.name][1, 0]),
            "mean": float(point[res.name][1]),
            "mean_lo": float(interval[res.name][0, 1]),
            "mean_hi": float(interval[res.name][1, 1]),
            "median_latency_ms": float(np.nanmedian(res.latency) * 1e3),
        }
        for g in GROUPS:
            cols = [j for j, t in enumerate(tags) if t == g and played[j]]
            row[f"mean_{g}"] = float(score[:, cols].mean()) if cols else None
        out.append(row)
    return out


def markdown(result: dict[str, Any]) -> str:
    """The aggregate table, then per instance the median latency and score of every target."""
    lines = [
        f"Split `{result['split']}`; score = strongest reference latency / latency (1: the best known plan).",
        "",
        "| target | evals/instance | seeds | IQM [95% CI] | mean [95% CI] | "
        + " | ".join(f"mean {g}" for g in GROUPS)
        + " | median ms |",
        "|---|---|---|---|---|" + "---|" * len(GROUPS) + "---|",
    ]
    for a in result["aggregate"]:
        groups = " | ".join("-" if a[f"mean_{g}"] is None else f"{a[f'mean_{g}']:.3f}" for g in GROUPS)
        lines.append(
            f"| {a['target']} | {a['evals/instance']} | {a['seeds']} | {a['IQM']:.3f} [{a['IQM_lo']:.3f}, "
            f"{a['IQM_hi']:.3f}] | {a['mean']:.3f} [{a['mean_lo']:.3f}, {a['mean_hi']:.3f}] | {groups} | "
            f"{a['median_latency_ms']:.2f} |"
        )
    targets = [a["target"] for a in result["aggregate"]]
    per: dict[str, dict[str, list[float]]] = {}
    held: dict[str, str] = {}
    for r in result["rows"]:
        per.setdefault(r["instance"], {}).setdefault(r["target"], []).append(r["latency_ms"])
        held[r["instance"]] = f"{r['held_out']}; ref {r['reference']} {r['reference_ms']:.2f}"
    lines += ["", "Median latency (ms) over seeds per instance:", ""]
    lines.append("| instance | held out; reference | " + " | ".join(targets) + " |")
    lines.append("|---|---|" + "---|" * len(targets))
    for inst, by in per.items():
        cells = " | ".join(f"{np.median(by[t]):.2f}" if t in by else "-" for t in targets)
        lines.append(f"| {inst} | {held[inst]} | {cells} |")
    return "\n".join(lines) + "\n"


def _target_commit(target: str) -> str | None:
    """The commits a folder target's runs trained on (``|``-joined; ``unknown`` for a run that did
    not record one, unless the folder itself did, as a sweep launched by a script does), or None
    for a planner target."""
    folder = Path(target.split(" (")[0])  # "<folder> (best episode)" is the same runs
    if not folder.is_dir():
        return None
    runs = sorted({p.parent.parent for p in folder.rglob("export/policy.zip")}) or [folder]
    own = read_run_provenance(folder)["commit"]
    got = {read_run_provenance(r)["commit"] for r in runs}
    return "|".join(sorted({own if c == UNKNOWN else c for c in got}))


def write_outputs(result: dict[str, Any], out: Path) -> list[Path]:
    """``benchmark.csv`` (every row), ``benchmark.md`` and ``benchmark.png`` in ``out``."""
    _, _, plot_utils = _rliable()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "benchmark.csv", out / "benchmark.md", out / "benchmark.png"]
    # every row stamped like experiments' CSVs (generalization_*.csv are copies of this file); a
    # trained target's rows carry its runs' commits, not this process's
    commits = {t: _target_commit(t) for t in dict.fromkeys(r["target"] for r in result["rows"])}
    rows = [{**r, **({"commit": commits[r["target"]]} if commits[r["target"]] else {})} for r in result["rows"]]
    atomic_csv(paths[0], stamp_rows(rows, (*SOURCE, "experiments")))
    atomic_write(paths[1], markdown(result))
    agg = result["aggregate"]
    names = [a["target"] for a in agg]
    point = {a["target"]: np.array([a["IQM"], a["mean"]]) for a in agg}
    interval = {a["target"]: np.array([[a["IQM_lo"], a["mean_lo"]], [a["IQM_hi"], a["mean_hi"]]]) for a in agg}
    fig, _ = plot_utils.plot_interval_estimates(
        point,
        interval,
        ["IQM", "Mean"],
        algorithms=names,
        subfigure_width=4.0,
        xlabel_y_coordinate=-0.05 - 0.8 / (len(names) + 1),  # below the ticks, however many rows
    )
    fig.savefig(paths[2], dpi=120, bbox_inches="tight")
    plt.close(fig)
    return paths
