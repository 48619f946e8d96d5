"""Where each plan's time goes, device by device: DistrEdge's Fig. 14 and its Pi3 remark (Sec. VI).

    python -m splitgym.experiments.distredge_plan_loads   # ~10 s -> experiments/results/distredge_plan_loads.csv

Why: Fig. 14 explains the baselines' losses on DB at 50 Mbps by which of two maxima dominates
(the largest transmission and the largest computing latency among the four devices: CoEdge,
MoDNN, MeDNN transmission-bound, DeepThings/DeeperThings compute-bound), and Sec. VI says the
learned plan may leave the Pi3 of group DC empty. Both are properties of a plan on the cost
model, so this prices every classical planner and every trained Table I run (``runs/table1``:
the paper variant, ``runs/table1-ours``: ours) device by device with the simulator: one row per
group, method, seed and device (compute and receive time in ms). A learned row carries its run's
commit and this process's command, as ``distredge_tables`` collects; a run whose simulated latency
no longer equals its ``summary.json`` (the cost model moved since it trained) is refused in one line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from splitgym.agents.planners import VOLUME_PLANNERS, run_planner
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan, load_plan
from splitgym.costmodels.provenance import read_run_provenance
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.experiments.module_command import module_command
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["GROUPS", "VARIANT_DIRS", "device_rows", "learned_runs", "plan_load_rows", "main"]

#: Table I's groups: (devices, network)
GROUPS = {f"{d}_bw{b}": (d, f"bw{b}") for d in ("DA", "DB", "DC") for b in (50, 300)}
#: the run folders of ``distredge_tables table1`` per DistrEdge variant
VARIANT_DIRS = {"distredge-paper": "table1", "distredge-ours": "table1-ours"}
#: relative tolerance between a run's recorded latency and the same plan simulated again
TOLERANCE = 1e-6


def device_rows(sim: Simulator, plan: Plan) -> tuple[float, list[dict[str, Any]]]:
    """The plan's latency (ms) and, per device, its compute time and the sum of its receive times
    (ms): the two quantities whose maxima over devices Fig. 14 plots."""
    b = sim.simulate(plan)
    rows = [
        {"device": d["device"], "compute_ms": round(d["compute_s"] * 1e3, 6), "recv_ms": round(d["recv_s"] * 1e3, 6)}
        for d in b.per_device()
    ]
    return b.latency * 1e3, rows


def learned_runs(runs: Path, group: str) -> list[tuple[str, int, Path]]:
    """(method, seed, run folder) of every finished Table I run of ``group``, seeds in order."""
    found = []
    for method, sub in VARIANT_DIRS.items():
        for run in sorted((runs / sub / group).glob("seed*")):
            if (run / "export" / "plan.json").exists() and run.name[4:].isdigit():
                found.append((method, int(run.name[4:]), run))
    return found


def _learned(sim: Simulator, method: str, seed: int, run: Path) -> tuple[float, list[dict[str, Any]], str]:
    latency, rows = device_rows(sim, load_plan(run / "export" / "plan.json"))
    recorded = json.loads((run / "export" / "summary.json").read_text())["latency_ms"]["learned_plan"]
    if abs(latency - recorded) > TOLERANCE * recorded:
        raise SystemExit(
            f"distredge_plan_loads: {run}: simulated {latency:.6f} ms, the run recorded {recorded:.6f} ms "
            "(the cost model changed since it trained; train it again)"
        )
    return latency, rows, read_run_provenance(run)["commit"]


def plan_load_rows(runs: Path, model: str = "vgg16") -> list[dict[str, Any]]:
    """One row per group, method (classical planner or DistrEdge variant), seed and device."""
    graph = ModelGraph.from_torchvision(model, weights=False)
    out: list[dict[str, Any]] = []
    for group, (devices, network) in GROUPS.items():
        cluster = Cluster.from_config(devices, network)
        sim = Simulator(graph, cluster)
        boards = {d.name: d.board for d in cluster.devices}
        priced = [(p, None, *device_rows(sim, run_planner(p, graph, cluster)), None) for p in VOLUME_PLANNERS]
        priced += [(m, s, *_learned(sim, m, s, run)) for m, s, run in learned_runs(runs, group)]
        for method, seed, latency, rows, commit in priced:
            for r in rows:
                row = {"group": group, "model": model, "method": method, "seed": seed,
                       "board": boards[r["device"]], **r, "latency_ms": round(latency, 6)}  # fmt: skip
                out.append(row if commit is None else {**row, "commit": commit})
    return out


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=Path(RESULTS_DIR) / "runs", help="where distredge_tables trained")
    ap.add_argument("--out", type=Path, default=Path(RESULTS_DIR))
    args = ap.parse_args(argv)
    command = module_command("splitgym.experiments.distredge_plan_loads", argv)
    rows = plan_load_rows(args.runs)
    learned = len({(r["group"], r["method"], r["seed"]) for r in rows if r["seed"] is not None})
    write_csv(args.out / "distredge_plan_loads.csv", rows, command=command)
    print(f"{len(rows)} rows ({learned} trained plans) -> {args.out / 'distredge_plan_loads.csv'}")
    return rows


if __name__ == "__main__":
    main()
