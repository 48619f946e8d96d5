"""Every classical volume planner on the groups of DistrEdge's thesis runs (VGG-16), without training.

    python -m splitgym.experiments.distredge_baselines     # ~15 s -> experiments/results/distredge_baselines.csv

Why: DistrEdge states its gains *over AOFL* (DE L302, L309, L328), and ``thesis_runs.csv`` keeps
only the best classical plan of each run. The planners are deterministic and the thesis runs'
cost model is the group's cluster as configured (``derive: linear`` copies for the linear boards),
so re-planning here gives each run's AOFL latency without re-reading run folders; the claims table
(:mod:`distredge_claims`) checks that the best classical plan here equals the runs' own.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from splitgym.agents.planners import VOLUME_PLANNERS, run_planner
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.experiments.distredge_thesis import BOARDS, GROUPS, linear_devices
from splitgym.experiments.module_command import module_command
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["baseline_rows", "main"]


def baseline_rows(model: str = "vgg16") -> list[dict[str, Any]]:
    """One row per thesis group, board shape and classical planner: its simulated latency (ms)."""
    graph = ModelGraph.from_torchvision(model, weights=False)
    rows = []
    with tempfile.TemporaryDirectory(prefix="splitgym-linear-") as tmp:
        for group, (devices, network, _) in GROUPS.items():
            for boards in BOARDS:
                dev = devices if boards == "gpu" else str(linear_devices(devices, Path(tmp)))
                cluster = Cluster.from_config(dev, network)
                sim = Simulator(graph, cluster)
                for planner in VOLUME_PLANNERS:
                    latency = sim.simulate(run_planner(planner, graph, cluster)).latency
                    rows.append(
                        {"group": group, "boards": boards, "model": model, "planner": planner,
                         "latency_ms": round(latency * 1e3, 6)}
                    )  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(RESULTS_DIR))
    args = ap.parse_args(argv)
    command = module_command("splitgym.experiments.distredge_baselines", argv)
    rows = baseline_rows()
    write_csv(args.out / "distredge_baselines.csv", rows, command=command)  # stamps the commit
    print(f"{len(rows)} rows -> {args.out / 'distredge_baselines.csv'}")
    return rows


if __name__ == "__main__":
    main()
