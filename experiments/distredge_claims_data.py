"""The measured inputs of DistrEdge's claims table (:mod:`distredge_claims`): which CSV each
figure comes from, the command that makes it, and the per-run ratios joined from two CSVs.

Why a module of its own: the table's rows are prose around numbers; here are only the numbers,
each read from a CSV under ``experiments/results`` (never re-run), so a row can say exactly where
its figure came from, or that it was not run and how to run it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from splitgym.experiments.results_csv import read_csv

__all__ = ["COMMANDS", "KEYS", "NOT_RUN", "Results", "row", "spread", "thesis_ratios"]

#: the columns of a claim row
KEYS = ("figure", "claim", "paper", "ours", "source", "why")

#: every CSV the table reads or would read, and the command that writes it
COMMANDS = {
    "thesis_runs.csv": "python -m splitgym.experiments.distredge_thesis --seeds 0,1,2 --collect",
    "thesis.csv": "python -m splitgym.experiments.distredge_thesis --seeds 0,1,2 --collect",
    "distredge_baselines.csv": "python -m splitgym.experiments.distredge_baselines",
    "distredge_plan_loads.csv": "python -m splitgym.experiments.distredge_plan_loads",
    "distredge_models_extra.csv": "python -m splitgym.experiments.distredge_models_extra",
    "lcpss_samples.csv": "python -m splitgym.experiments.lcpss_samples",
    "generalization_test.csv": "python -m splitgym.experiments.generalization",
    "predicted_vs_measured_summary.csv": "python -m splitgym.experiments.predicted_vs_measured_report",
    "bench.csv": "make bench",
    "alpha_ratios.csv": "python -m splitgym.experiments.distredge_tables alpha",
    "alpha.csv": "python -m splitgym.experiments.distredge_tables alpha",
    "table2_ratios.csv": "python -m splitgym.experiments.distredge_tables table2",
    "table3_ratios.csv": "python -m splitgym.experiments.distredge_tables table3",
    "models_ratios.csv": "python -m splitgym.experiments.distredge_tables models",
    "dynamic.csv": "python -m splitgym.experiments.distredge_dynamic",
    "dynamic_summary.csv": "python -m splitgym.experiments.distredge_dynamic",
}
#: the source of a row whose figure has no CSV of ours
NOT_RUN = "not run"


class Results:
    """The CSVs under one folder, read once each; ``has`` says whether one exists."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._rows: dict[str, list[dict[str, Any]]] = {}

    def has(self, name: str) -> bool:
        return (self.folder / name).exists()

    def rows(self, name: str) -> list[dict[str, Any]]:
        if name not in self._rows:
            self._rows[name] = read_csv(self.folder / name)
        return self._rows[name]

    def not_run(self, name: str) -> str:
        """The cell for a figure whose CSV is missing: what would make it."""
        return f"not run: `{COMMANDS[name]}` would write `{name}`"


def row(figure: str, claim: str, paper: str, ours: str, source: str, why: str) -> dict[str, str]:
    """One claim row; ``source`` is the CSV(s) its figure came from, or :data:`NOT_RUN`."""
    return dict(zip(KEYS, (figure, claim, paper, ours, source, why)))


def spread(values: Iterable[float], digits: int = 2) -> str:
    """``median (min-max)`` of ``values``, as the README's thesis table writes seeds."""
    v = sorted(values)
    if not v:
        return "-"
    med = statistics.median(v)
    return f"{med:.{digits}f}" if len(v) == 1 else f"{med:.{digits}f} ({v[0]:.{digits}f}-{v[-1]:.{digits}f})"


def thesis_ratios(res: Results) -> list[dict[str, Any]]:
    """One row per thesis run (group, boards, variant, seed): DRL's gain over AOFL (AOFL's latency /
    the learned plan's, from ``distredge_baselines.csv``) and over the best classical plan, and
    ``baseline_ok``: whether the re-planned best classical latency equals the run's own (same
    cost model, so the AOFL figure is that run's)."""
    base: dict[tuple[str, str], dict[str, float]] = {}
    for b in res.rows("distredge_baselines.csv"):
        base.setdefault((b["group"], b["boards"]), {})[b["planner"]] = float(b["latency_ms"])
    out = []
    for r in res.rows("thesis_runs.csv"):
        lat = base[(r["group"], r["boards"])]
        learned = float(r["learned_ms"])
        out.append(
            {
                **{k: r[k] for k in ("group", "boards", "variant", "seed", "best_classical")},
                "over_aofl": lat["aofl"] / learned,
                "over_best": float(r["gain_over_best"]),
                "over_exact": r["gain_over_exact"],  # None: the exact search did not fit
                "aofl_over_best": lat["aofl"] / float(r["best_classical_ms"]),
                "baseline_ok": abs(min(lat.values()) - float(r["best_classical_ms"])) < 1e-3,
            }
        )
    return out
