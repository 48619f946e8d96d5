"""DistrEdge's model comparison (DE L337: Fig. 9, Group DB at 50 Mbps; Fig. 10, four Nanos on
network NA) on the models it names.

    python -m splitgym.experiments.distredge_models_extra [--groups DB:50,all-nano:NA]
        [--models vgg16,resnet50,inception_v3,yolov2,ssd300_vgg16,ssd300_resnet50,openpose]

A group is ``devices:network``: a device group and either a number (every device capped at that
many Mbps) or a network config name (``NA``: per-device caps 50/50/200/200 Mbps).

Per model: every classical volume planner (``VOLUME_PLANNERS``), LC-PSS at the paper's a = 0.75
with the pilot's best sampled split on its partition (``lcpss-pilot --set alphas=0.75``), the
pilot's sweep over a (``lcpss-pilot``) and its search (``--set search=1``: AOFL's partition among
the seeds, per-volume priors, boundary moves; the ``ours`` variant's start), each plan scored
by the volume simulator on the same cost model. No training: the search's decision is where
DistrEdge-v0's training starts (``ours`` variant) and a run keeps its best plan, so its ratio over
the best classical plan is a training-free lower bound on what such a run would report.
The paper gives no per-model numbers in its text, only "1.1x to over 2.6x" over the baselines
on all models (DB at 50 Mbps and NA), which the table puts beside ours.

Also per model: units, the FLOP share of the unsplit head (SSD's extras and box head run on the
requester, see costmodels/zoo/ssd.py) and the time to plan. VoxelNet is refused (README).
Writes ``experiments/results/distredge_models_extra.csv`` (one row per group, model and method,
with the commit and the command) and ``.md`` (one row per group and model).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from splitgym.agents.planners import VOLUME_PLANNERS, run_planner
from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.provenance import commit_stamp
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.experiments.dependencies import module_of, paths_of
from splitgym.experiments.module_command import module_command
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

MODELS = ("vgg16", "resnet50", "inception_v3", "yolov2", "ssd300_vgg16", "ssd300_resnet50", "openpose")
#: method label -> (planner, options)
OURS: dict[str, tuple[str, dict[str, Any]]] = {
    "lcpss(a=0.75)+pilot": ("lcpss-pilot", {"alphas": "0.75"}),
    "lcpss-pilot": ("lcpss-pilot", {}),
    "pilot-search": ("lcpss-pilot", {"search": 1}),
}
PAPER = "1.1 to >2.6 (all 7 models, DB@50 and NA; bars not in the text)"
#: Fig. 9's group and Fig. 10's (the Nanos on NA)
GROUPS = "DB:50,all-nano:NA"


def parse_groups(text: str) -> list[tuple[str, str | float]]:
    """``DB:50,all-nano:NA`` -> [("DB", 50.0), ("all-nano", "NA")]: a number is a bandwidth cap in
    Mbps, anything else a network config name (checked when the cluster is built)."""
    groups: list[tuple[str, str | float]] = []
    for item in text.split(","):
        devices, sep, network = item.strip().partition(":")
        if not sep or not devices or not network:
            raise ConfigError(f"--groups: expected devices:network (e.g. DB:50 or all-nano:NA), got {item!r}")
        try:
            groups.append((devices, float(network)))
        except ValueError:
            groups.append((devices, network))
    return groups


def group_label(devices: str, network: str | float) -> str:
    """``DB 50 Mbps`` or ``all-nano NA``: the group column of the tables."""
    return f"{devices} {network:g} Mbps" if isinstance(network, float) else f"{devices} {network}"


def model_rows(name: str, cluster: Cluster, common: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per method for one model: simulated latency (ms), IPS and the time to plan."""
    graph = ModelGraph.from_torchvision(name, weights=False)
    sim = Simulator(graph, cluster)
    head = graph.head.flops if graph.head else 0
    methods = [(m, m, {}) for m in VOLUME_PLANNERS] + [(k, p, o) for k, (p, o) in OURS.items()]
    rows = []
    for label, planner, opts in methods:
        t0 = time.perf_counter()
        plan = run_planner(planner, graph, cluster, **opts)
        plan_s = time.perf_counter() - t0
        lat = sim.simulate(plan).latency
        rows.append(
            {
                "model": name,
                "input": graph.input_shape[1],
                "units": graph.num_units,
                "head_flops_share": round(head / graph.flops, 4),
                "method": label,
                "latency_ms": round(lat * 1e3, 3),
                "ips": round(1.0 / lat, 3),
                "volumes": len(plan.volumes),
                "plan_s": round(plan_s, 3),
                **common,
            }
        )
    return rows


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model: the best classical plan, AOFL, and the two LC-PSS plans over both."""
    out = []
    for group, name in dict.fromkeys((r["group"], r["model"]) for r in rows):
        mine = {r["method"]: r for r in rows if r["model"] == name and r["group"] == group}
        classical = [mine[m] for m in VOLUME_PLANNERS]
        best = min(classical, key=lambda r: r["latency_ms"])
        row = {
            "group": group,
            "model": name,
            "units": best["units"],
            "head FLOPs": f"{100 * best['head_flops_share']:.1f}%",
            "best classical": f"{best['method']} {best['latency_ms']:.1f} ms",
            "AOFL ms": mine["aofl"]["latency_ms"],
        }
        for label in OURS:
            row[f"{label} ms"] = mine[label]["latency_ms"]
            row[f"{label} / best"] = round(best["latency_ms"] / mine[label]["latency_ms"], 3)
        row["pilot-search / AOFL"] = round(mine["aofl"]["latency_ms"] / mine["pilot-search"]["latency_ms"], 3)
        row["paper (DistrEdge / baselines)"] = PAPER
        out.append(row)
    return out


def _markdown(rows: list[dict[str, Any]], header: str) -> str:
    keys = list(rows[0])
    lines = [header, "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", default=GROUPS, help="devices:network pairs (network: Mbps or a config name)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--out", type=Path, default=Path(RESULTS_DIR))
    args = ap.parse_args(argv)
    groups = [(d, n, Cluster.from_config(d, n)) for d, n in parse_groups(args.groups)]  # bad names refused first
    command = module_command("splitgym.experiments.distredge_models_extra", argv)
    stamp = {"commit": commit_stamp(paths_of(module_of(command))), "command": command}
    rows: list[dict[str, Any]] = []
    for devices, network, cluster in groups:
        common = {"group": group_label(devices, network), "devices": devices, "network": network, **stamp}
        for name in args.models.split(","):
            t0 = time.perf_counter()
            rows += model_rows(name, cluster, common)
            print(f"{common['group']} {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    write_csv(args.out / "distredge_models_extra.csv", rows)
    labels = ", ".join(group_label(d, n) for d, n, _ in groups)
    head = f"DistrEdge's models on {labels} (`{stamp['command']}`, {stamp['commit']})"
    atomic_write((args.out / "distredge_models_extra.md"), _markdown(summary(rows), head))
    print(_markdown(summary(rows), head))


if __name__ == "__main__":
    main()
