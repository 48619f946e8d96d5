"""HiDP's two levels run for real on this machine, measured against the cost model's prediction.

    python -m splitgym.experiments.hidp_processors [--model vgg11 --input 64]

* **Processor level.** One node whose processors are this machine's two cores ("core0",
  "core1", each a worker process pinned with ``sched_setaffinity``, one torch thread). Both get the
  local measured profile scaled by its thread count (it was measured with ``threads`` threads; a
  single pinned thread is predicted at ``threads`` x its seconds: the crude assumption of perfect
  intra-op scaling). HiDP's local partitioner picks, per unit, one core or a row split over both;
  :func:`run_shares` runs the plan, checks the output against the unsplit model, and each part's
  measured wall time is written next to the prediction (``hidp_processors.csv``).
* **Node level.** HiDP's plan for two nodes (Orin NX leader + Nano, derived profiles, 80 Mbps) runs
  over ``volume_distributed.py`` (one process per node, gloo), which executes the plan's node rows
  (volumes); the maximum absolute error against the unsplit model is printed.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from splitgym.agents.planners import PLANNERS
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import Node, NodeCluster, make_node
from splitgym.costmodels.nodes.node_processors import ProcessorSpec
from splitgym.costmodels.profiles import DeviceProfile, UnitTable, load_or_measure
from splitgym.executors.nodes.processor_runner import ProcessorPool, run_shares
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv


def scaled(p: DeviceProfile, factor: float) -> DeviceProfile:
    units = [UnitTable(u.name, u.heights, u.widths, [[s * factor for s in r] for r in u.seconds]) for u in p.units]
    return replace(p, units=units, head_seconds=p.head_seconds * factor, name=f"{p.name}x{factor:g}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="vgg11")
    ap.add_argument("--input", type=int, default=64)
    ap.add_argument(
        "--out", default=RESULTS_DIR, help="results folder (default: %(default)s, under the working directory)"
    )
    ap.add_argument("--skip-distributed", action="store_true")
    args = ap.parse_args(argv)
    g = ModelGraph.from_torchvision(args.model, args.input)
    base = load_or_measure(g)
    threads = int(base.meta.get("machine", {}).get("threads", 1))
    core = scaled(base, float(threads))
    cores = tuple(ProcessorSpec(f"core{i}", "cpu", 1.0, 0.0, "this machine: one pinned core") for i in range(2))
    node = Node("here", "local", cores, "core0", 0.0, 5.0, 1000.0)
    nc = NodeCluster("here", [node], "here")
    profs = {("here", c.name): core for c in cores}
    sc = HiDPScorer(g, nc, profs)
    plan = PLANNERS["hidp"](g, nc.to_cluster(), nodes=nc, processor_profiles=profs)
    torch.manual_seed(1)
    x = torch.randn(1, *g.input_shape)
    with torch.inference_mode():
        ref = g.gm(x)
    with ProcessorPool(g.name, g.input_shape, cores=[0, 1]) as pool:
        run_shares(plan, g, x, pool, profile=core)  # warm-up: builds every slice
        res = run_shares(plan, g, x, pool, profile=core)
    torch.testing.assert_close(res.output, ref, rtol=1e-4, atol=1e-4)
    rows = res.to_rows()
    write_csv(Path(args.out) / "hidp_processors.csv", rows)
    split = [p for p in res.parts if len([r for r in p.proc_rows if r[1] > r[0]]) > 1]
    meas, pred = sum(p.wall_s for p in res.parts), sum(p.predicted_wall_s for p in res.parts)
    print(
        f"{g.name} {list(g.input_shape)}: {len(res.parts)} parts, {len(split)} split over both cores; "
        f"output matches the unsplit model"
    )
    print(
        f"sum of part wall times: measured {meas * 1e3:.1f} ms, predicted {pred * 1e3:.1f} ms "
        f"(scorer latency {sc.latency(plan) * 1e3:.1f} ms, profile threads {threads})"
    )
    ratio = [p.wall_s / p.predicted_wall_s for p in res.parts if p.predicted_wall_s > 0]
    print(f"measured/predicted per part: median {np.median(ratio):.2f}, min {min(ratio):.2f}, max {max(ratio):.2f}")
    if not args.skip_distributed:
        from splitgym.executors.volumes.volume_distributed import run_distributed

        two = NodeCluster("two", [make_node("orin", "orin-nx", 80.0), make_node("nano", "nano", 80.0)], "nano", 2e-3)
        p2 = PLANNERS["hidp"](g, two.to_cluster(), nodes=two)
        r = run_distributed(p2, images=2, warmup=1)
        print(
            f"node level over volume_distributed.py ({p2.meta['states'][:4]}...): max abs error {r.max_abs_error:.2e}, "
            f"measured latency {r.latency_mean_s * 1e3:.1f} ms on this machine"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
