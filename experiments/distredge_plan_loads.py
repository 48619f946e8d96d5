"""Where each plan's time goes, device by device: DistrEdge's Fig. 14 and its Pi3 remark (Sec. VI).

    python -m splitgym.experiments.distredge_plan_loads   # ~10 s -> experiments/results/distredge_plan_loads.csv

Why: Fig. 14 explains the baselines' losses on DB at 50 Mbps by which of two maxima dominates
(the largest transmission and the largest computing latency among the four devices: CoEdge,
MoDNN, MeDNN transmission-bound, DeepThings/DeeperThings compute-bound), and Sec. VI says the
learned plan may leave the Pi3 of group DC empty. Both are properties of a plan on the cost
model, so this prices every classical planner and every trained Table I run (``runs/table1``:
the paper variant, ``runs/table1-ours``: ours) device by device with the simulator: one row per
group, method, seed and device (compute and receive time in ms). A learned row names the commit its
run trained on (``train_commit``, as ``msmdi_tables`` does); a run trained on code that changed
since, or whose simulated latency no longer equals its ``summary.json``, is refused in one line.
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
from splitgym.costmodels.provenance import UNKNOWN, read_run_provenance
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.experiments.module_command import module_command
from splitgym.experiments.results_check import status
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


def _learned(sim: Simulator, run: Path) -> tuple[float, list[dict[str, Any]], dict[str, str]]:
    """A trained run's plan priced again, and its ``train_commit`` (the row's own ``commit`` is this
    process's, stamped by write_csv; a run whose commit this repository does not hold, or that
    recorded none, leaves the row ``unknown``: no commit is guessed). A run trained on code that
    changed since, or whose plan the cost model no longer prices as it did, is refused in one line."""
    prov = read_run_provenance(run)
    state, changed = status(prov)
    if state == "stale":
        raise SystemExit(
            f"distredge_plan_loads: {run} trained on {prov['commit'][:10]} and {', '.join(changed[:3])} changed "
            "since; train it again (distredge_tables table1 --seeds 0,1,2)"
        )
    latency, rows = device_rows(sim, load_plan(run / "export" / "plan.json"))
    recorded = json.loads((run / "export" / "summary.json").read_text())["latency_ms"]["learned_plan"]
    if abs(latency - recorded) > TOLERANCE * recorded:
        raise SystemExit(
            f"distredge_plan_loads: {run}: simulated {latency:.6f} ms, the run recorded {recorded:.6f} ms "
            "(the cost model changed since it trained; train it again)"
        )
    return latency, rows, {"train_commit": prov["commit"], **({"commit": UNKNOWN} if state == "unknown" else {})}


def plan_load_rows(runs: Path, model: str = "vgg16") -> list[dict[str, Any]]:
    """One row per group, method (classical planner or DistrEdge variant), seed and device."""
    graph = ModelGraph.from_torchvision(model, weights=False)
    out: list[dict[str, Any]] = []
    for group, (devices, network) in GROUPS.items():
        cluster = Cluster.from_config(devices, network)
        sim = Simulator(graph, cluster)
        boards = {d.name: d.board for d in cluster.devices}
        priced = [(p, None, *device_rows(sim, run_planner(p, graph, cluster)), {}) for p in VOLUME_PLANNERS]
        priced += [(m, s, *_learned(sim, run)) for m, s, run in learned_runs(runs, group)]
        for method, seed, latency, rows, prov in priced:
            for r in rows:
                out.append(
                    {"group": group, "model": model, "method": method, "seed": seed, "board": boards[r["device"]],
                     **r, "latency_ms": round(latency, 6), "train_commit": "", **prov}
                )  # fmt: skip
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
