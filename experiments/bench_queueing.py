"""Benchmark: wall time of the MS-MDI queueing simulator on the paper's largest set-up.

    python -m splitgym.experiments.bench_queueing [--scenario ms-mdi-5] [--repeats 3]

Runs every scheduling policy on the scenario (default: 5 TX2 workers, 2 sources, 10K + 30K
images) and prints the median wall time over repeats, the simulated events per second and the
total processing time each policy reaches. The issue's target: 30K images x 5 workers in seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from splitgym.costmodels.stages.queue_policies import SCHEDULERS, get_scheduler
from splitgym.costmodels.stages.queue_sim import QueueSim
from splitgym.envs.msmdi_scenarios import get_mdi_scenario, list_mdi_scenarios


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="ms-mdi-5", choices=list_mdi_scenarios())
    ap.add_argument("--weight", default=None, choices=["params", "flops"])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    sc = get_mdi_scenario(args.scenario)
    system = sc.system(**({"weight": args.weight} if args.weight else {}))
    rows = {}
    for name in SCHEDULERS:
        times, res, sim = [], None, None
        for _ in range(args.repeats):
            sim = QueueSim(system, seed=0)
            t = time.perf_counter()
            res = sim.run(get_scheduler(name))
            times.append(time.perf_counter() - t)
        assert res is not None and sim is not None
        rows[name] = {
            "wall_s": round(statistics.median(times), 3),
            "events": sim._seq,
            "events_per_s": round(sim._seq / statistics.median(times)),
            "total_time_s": round(res.makespan_s, 1),
        }
    out = {
        "scenario": sc.id,
        "workers": system.N,
        "images": sum(system.images),
        "weight": system.meta["weight"],
        "policies": rows,
    }
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
