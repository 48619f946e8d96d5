"""Benchmark: the pilot search with its clock bound next to the same search pricing every
neighbour in full (``clock_bound=False``), in one process, alternating: ``make bench``'s ``pilot``
rows.

Why in process: the two are the same code but for the bound, so one interpreter compares them on
equal terms (``bench_pilot`` compares checkouts in fresh processes instead). A first search warms
what both reuse (the torchvision graph's import, the device profiles' files); each later search
builds its own simulator, as a run does. Wall seconds of the search, medians of ``repeats``, and
whether both chose the same partition, latency, prior, seed, moves, count and centre (bit for bit).

    python -m splitgym.experiments.bench_pilot_bound [--cases resnet152:LB,vgg16:DB] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.volumes.partition_pilot import SEARCH, PilotResult, pilot_partition

__all__ = ["main", "side_by_side", "same_choice"]


def same_choice(a: PilotResult, b: PilotResult) -> bool:
    """Whether two searches chose the same plan: every field equal, the centre bit for bit."""
    fields = ("partition", "latency", "prior", "source", "alpha", "moves", "priced", "candidates")
    return all(getattr(a, f) == getattr(b, f) for f in fields) and np.array_equal(a.centre, b.centre)


def side_by_side(model: str, devices: str, repeats: int = 3) -> dict[str, Any]:
    """Medians of the search's wall seconds with the bound (``bound_s``) and without (``full_s``)."""
    g, c = ModelGraph.from_torchvision(model), Cluster.from_config(devices, 300.0)
    pilot_partition(g, c, **SEARCH)  # warm-up, not timed
    times: dict[bool, list[float]] = {False: [], True: []}
    got: dict[bool, PilotResult] = {}
    for _ in range(repeats):
        for bound in (False, True):
            t = time.perf_counter()
            got[bound] = pilot_partition(g, c, **SEARCH, clock_bound=bound)
            times[bound].append(time.perf_counter() - t)
    return {
        "case": f"{model} {devices}",
        "full_s": statistics.median(times[False]),
        "bound_s": statistics.median(times[True]),
        "same_choice": same_choice(got[False], got[True]),
        "priced": got[True].priced,
        "volumes": len(got[True].partition),
        "latency_ms": got[True].latency * 1e3,
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="resnet152:DB,resnet152:LB,vgg16:DB", help="model:devices,...")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    rows = []
    for case in args.cases.split(","):
        model, _, devices = case.partition(":")
        if not model or not devices:
            ap.error(f"--cases: each case is model:devices, got {case!r}")
        r = side_by_side(model, devices, args.repeats)
        rows.append(r)
        print(
            f"{r['case']:<14} full {r['full_s']:6.2f} s  bound {r['bound_s']:6.2f} s  "
            f"x{r['full_s'] / r['bound_s']:.2f}  same choice: {r['same_choice']}  ({r['volumes']} volumes)"
        )
    print(f"(medians of {args.repeats}; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return rows


if __name__ == "__main__":
    main()
