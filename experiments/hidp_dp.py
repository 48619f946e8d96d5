"""The run time of HiDP's global DP (the paper: 15 ms for global + local exploration, HI L189).

    python -m splitgym.experiments.hidp_dp [--models vgg19,resnet152,efficientnet_b0,inception_v3]
        [--nodes 2,3,5] [--min-run-time 1.0]

For each of the paper's models (224 x 224, InceptionV3 299) on the first m nodes of ``hidp-5``
(derived processor profiles, 80 Mbps), both solvers of :class:`GlobalDP`, timed with
``torch.utils.benchmark`` (median of blocked runs, one torch thread):

* ``cold_ms``: a fresh DP (data-mode rows, every local choice and transition cost computed) and
  its solution: the whole exploration, global and local, as the paper times it. The scorer
  (profiles, per-unit tables) is built once before: it is the model analysis, not the search.
* ``relax_ms``: ``solve`` again on the same DP, every cost memoised: the relaxations alone, where
  O(n*m) and O(n*m^2) differ.

Both solvers must return the same latency (checked). Writes ``hidp_dp.csv`` in ``--out`` (default
``experiments/results`` under the working directory).
Run it on a quiet machine (``flock /work/wt/quiet.lock``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import torch
from torch.utils.benchmark import Timer

from splitgym.agents.planners.nodes.hidp import GlobalDP
from splitgym.agents.planners.nodes.hidp_local import LocalPartitioner
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import NodeCluster
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

SOLVERS = {"linear": GlobalDP.solve_linear, "quadratic": GlobalDP.solve}
PAPER_MS = 15.0


def time_dp(scorer: HiDPScorer, solver: str, min_run_time: float) -> dict[str, float]:
    solve = SOLVERS[solver]

    def cold() -> float:
        return solve(GlobalDP(scorer, LocalPartitioner(scorer, "hidp")))[0]

    warm = GlobalDP(scorer, LocalPartitioner(scorer, "hidp"))
    latency = solve(warm)[0]
    c = Timer("cold()", globals={"cold": cold}).blocked_autorange(min_run_time=min_run_time)
    r = Timer("solve(dp)", globals={"solve": solve, "dp": warm}).blocked_autorange(min_run_time=min_run_time)
    return {"cold_ms": c.median * 1e3, "relax_ms": r.median * 1e3, "latency_ms": latency * 1e3}


def run(models: list[str], node_counts: list[int], min_run_time: float) -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    nodes5 = NodeCluster.from_config("hidp-5")
    rows = []
    for name in models:
        g = ModelGraph.from_torchvision(name, 299 if name == "inception_v3" else 224)
        for m in node_counts:
            sc = HiDPScorer(g, nodes5.subset(m))
            got = {s: time_dp(sc, s, min_run_time) for s in SOLVERS}
            if abs(got["linear"]["latency_ms"] - got["quadratic"]["latency_ms"]) > 1e-9 * got["linear"]["latency_ms"]:
                raise AssertionError(f"{name} on {m} nodes: the solvers disagree: {got}")
            for s, t in got.items():
                rows.append({"model": name, "units": g.num_units, "nodes": m, "solver": s, **t, "paper_ms": PAPER_MS})
                print(
                    f"{name:<16}n={g.num_units:3d} m={m} {s:<10} cold {t['cold_ms']:8.2f} ms  "
                    f"relaxations {t['relax_ms']:7.3f} ms",
                    flush=True,
                )
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="vgg19,resnet152,efficientnet_b0,inception_v3")
    ap.add_argument("--nodes", default="2,3,5")
    ap.add_argument("--min-run-time", type=float, default=1.0, help="seconds per blocked_autorange")
    ap.add_argument(
        "--out", default=RESULTS_DIR, help="results folder (default: %(default)s, under the working directory)"
    )
    a = ap.parse_args(argv)
    rows = run(a.models.split(","), [int(x) for x in a.nodes.split(",")], a.min_run_time)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "hidp_dp.csv", rows)
    print(f"wrote {out / 'hidp_dp.csv'} (load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
