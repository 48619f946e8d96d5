"""DistrEdge's |R_s| sweep (DE L266-L276): how many random split decisions LC-PSS needs.

    python -m splitgym.experiments.lcpss_samples [--scenario vgg16-DB-300] [--repeats 50]

For |R_s| in {10, 25, 50, 100, 200}, LC-PSS runs with ``--repeats`` seeds. Each partition found is
scored by the best of ``--probe`` random split decisions on it (scored in one batch by the
simulator): a training-free proxy for the IPS a split agent can reach on that partition. The paper
reports IPS stable from |R_s| = 100; here stability shows as fewer distinct partitions and a
smaller spread of the proxy IPS. Writes ``experiments/results/lcpss_samples.csv`` and ``.png``.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from splitgym.costmodels.volumes.lcpss import LCPSS
from splitgym.costmodels.volumes.partitions import from_starts
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.envs.scenarios import get_scenario
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

SAMPLES = (10, 25, 50, 100, 200)


def probe_latency(sim: Simulator, starts: list[int], probe: int, rng: np.random.Generator) -> float:
    """Best latency of ``probe`` uniformly drawn split decisions on the partition."""
    part = from_starts(starts, sim.graph.num_units)
    vols = []
    for _, last in part:
        h = int(sim.heights[last])
        x = np.sort(rng.integers(0, h + 1, (probe, sim.N - 1)), axis=1)
        vols.append(np.concatenate([np.zeros((probe, 1), np.int64), x, np.full((probe, 1), h)], axis=1))
    return float(sim.score(part, np.stack(vols, axis=1)).min())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="vgg16-DB-300")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--probe", type=int, default=5000)
    ap.add_argument("--alpha", type=float, default=0.75)
    ap.add_argument(
        "--out", default=RESULTS_DIR, help="results folder (default: %(default)s, under the working directory)"
    )
    args = ap.parse_args(argv)
    sc = get_scenario(args.scenario)
    graph, cluster = sc.graph(), sc.cluster()
    sim = Simulator(graph, cluster)
    rows = []
    cache: dict[tuple[int, ...], float] = {}
    for samples in SAMPLES:
        found = []
        for seed in range(args.repeats):
            starts = LCPSS(graph, cluster.size, args.alpha, samples, seed).search()
            key = tuple(starts)
            if key not in cache:
                cache[key] = probe_latency(sim, starts, args.probe, np.random.default_rng(0))
            found.append(key)
        ips = np.array([1.0 / cache[k] for k in found])
        modal, count = Counter(found).most_common(1)[0]
        rows.append(
            {
                "samples": samples,
                "repeats": args.repeats,
                "distinct_partitions": len(set(found)),
                "modal_partition": "|".join(map(str, modal)),
                "modal_share": count / args.repeats,
                "proxy_ips_mean": float(ips.mean()),
                "proxy_ips_std": float(ips.std()),
            }
        )
        print(rows[-1], flush=True)
    out = Path(args.out)
    write_csv(out / "lcpss_samples.csv", rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(
        [r["samples"] for r in rows],
        [r["proxy_ips_mean"] for r in rows],
        yerr=[r["proxy_ips_std"] for r in rows],
        marker="o",
        capsize=3,
    )
    ax.set_xscale("log")
    ax.set_xlabel("|R_s| (random split decisions per score)")
    ax.set_ylabel("proxy IPS of the partition found")
    ax.set_title(f"LC-PSS stability, {args.scenario}, {args.repeats} seeds")
    fig.tight_layout()
    fig.savefig(out / "lcpss_samples.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
