"""The README's ``view=benchmark`` table: ``splitgym benchmark``'s aggregate (IQM and mean of the
normalised score with 95% stratified-bootstrap CIs over seeds, the mean per held-out group, the
median latency) computed again from its ``benchmark.csv`` rows.

Why again and not read from ``benchmark.md``: the README's figures must come from a CSV row, and
the CSV is what ``results_check`` can date. The statistics are the benchmark's own (rliable,
:data:`~splitgym.agents.bench_report.REPS` resamples, ``RandomState(0)``), so the table equals the
``.md`` the same run wrote in its point estimates (``tests/test_readme_view_benchmark.py``). Its
intervals need one more step: rliable 1.2.0's ``StratifiedBootstrap.update_indices`` draws from
numpy's *global* generator (``np.random.choice``) and ignores ``random_state``, so the same call
twice gives intervals ~0.002 apart (measured on a 3-seed random-search target). Here the global
state is seeded for each target and restored after, so the README's table is the same every time;
``bench_report`` (which passes ``random_state`` only) still varies in the third decimal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from splitgym.agents.bench_report import GROUPS, REPS

__all__ = ["benchmark", "benchmark_instances", "aggregate_rows"]


def _matrix(rows: list[dict[str, Any]]) -> tuple[np.ndarray, list[str], list[str]]:
    """Scores as seeds x instances (NaN where a seed has no row), the instances and their tags."""
    seeds = sorted({int(r["seed"]) for r in rows})
    insts = list(dict.fromkeys(r["instance"] for r in rows))
    score = np.full((len(seeds), len(insts)), np.nan)
    for r in rows:
        if r["score"] is not None:  # read_csv gives an empty cell as None; a NaN stays NaN
            score[seeds.index(int(r["seed"])), insts.index(r["instance"])] = float(r["score"])
    tags = {r["instance"]: (r.get("held_out") or "none") for r in rows}
    return score, insts, [tags[i] for i in insts]


@contextmanager
def _global_seed(seed: int) -> Iterator[None]:
    """numpy's global generator seeded for a block, its previous state put back after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def aggregate_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per target, in the CSV's order: what ``bench_report.aggregate`` reports for it."""
    from rliable import library, metrics

    out = []
    for target in dict.fromkeys(r["target"] for r in rows):
        mine = [r for r in rows if r["target"] == target]
        score, _, tags = _matrix(mine)
        played = ~np.isnan(score).any(axis=0)
        m = score[:, played]

        def both(x: np.ndarray) -> np.ndarray:
            return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])

        if m.shape[0] == 1:  # one seed (a planner): every resample is the row itself, the interval a point
            value = both(m)
            point, ci = {target: value}, {target: np.stack([value, value])}
        else:
            with _global_seed(0):
                point, ci = library.get_interval_estimates({target: m}, both, reps=REPS)
        lat = [float(r["latency_ms"]) for r in mine if r["latency_ms"] not in (None, "")]
        row = {"target": target, "seeds": score.shape[0], "instances": int(played.sum())}
        row |= {"IQM": point[target][0], "IQM_lo": ci[target][0, 0], "IQM_hi": ci[target][1, 0]}
        row |= {"mean": point[target][1], "mean_lo": ci[target][0, 1], "mean_hi": ci[target][1, 1]}
        for g in GROUPS:
            cols = [j for j, t in enumerate(tags) if t == g and played[j]]
            row[f"mean_{g}"] = float(score[:, cols].mean()) if cols else None
        row["median_latency_ms"] = float(np.median(lat)) if lat else None
        out.append(row)
    return out


def benchmark(rows: list[dict[str, Any]]) -> str:
    """The aggregate table (groups that no instance has are left out)."""
    agg = aggregate_rows(rows)
    groups = [g for g in GROUPS if any(a[f"mean_{g}"] is not None for a in agg)]
    head = ["target", "seeds", "IQM [95% CI]", "mean [95% CI]", *(f"mean {g}" for g in groups), "median ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for a in agg:
        cells = [
            a["target"],
            str(a["seeds"]),
            f"{a['IQM']:.3f} [{a['IQM_lo']:.3f}, {a['IQM_hi']:.3f}]",
            f"{a['mean']:.3f} [{a['mean_lo']:.3f}, {a['mean_hi']:.3f}]",
            *("-" if a[f"mean_{g}"] is None else f"{a[f'mean_{g}']:.3f}" for g in groups),
            "-" if a["median_latency_ms"] is None else f"{a['median_latency_ms']:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def benchmark_instances(rows: list[dict[str, Any]]) -> str:
    """Per instance: its held-out axis, the strongest reference and its latency, and each target's
    median latency over seeds (ms), as ``benchmark.md``'s second table."""
    targets = list(dict.fromkeys(r["target"] for r in rows))
    per: dict[str, dict[str, list[float]]] = {}
    held: dict[str, str] = {}
    for r in rows:
        per.setdefault(r["instance"], {}).setdefault(r["target"], []).append(float(r["latency_ms"]))
        held[r["instance"]] = f"{r.get('held_out') or 'none'}; ref {r['reference']} {float(r['reference_ms']):.2f}"
    lines = ["| instance | held out; reference | " + " | ".join(targets) + " |", "|---|---|" + "---|" * len(targets)]
    for inst, by in per.items():
        cells = " | ".join(f"{np.median(by[t]):.2f}" if t in by else "-" for t in targets)
        lines.append(f"| {inst} | {held[inst]} | {cells} |")
    return "\n".join(lines) + "\n"
