"""Why MS-MDI loses to AR-MDI on our simulator, measured: AR-MDI's allocation and the starvation
of the sources' own MDI queues.

    python -m splitgym.experiments.msmdi_mechanisms [--scenario ms-mdi-3] [--seed 0] [--bins 60]

* ``msmdi_allocation.csv``: AR-MDI's chain of source 0 per worker count (``ms-mdi-2`` .. ``-5``)
  for the allocation by parameters (the paper's rule) and by FLOPs: the units of each stage, the
  share of the image's compute that stays on the source, the empty stages (a worker the chain
  skips) and the slowest stage (the pipeline's bound on AR-MDI's throughput). MobileNetV2's
  parameters sit in its last layers and its FLOPs in its first, so allocation by parameters
  leaves most of the compute on the source.
* ``msmdi_starvation.csv`` and ``.png``: items served per queue over time at each source worker
  under the paper's rule (``ms-mdi``): its local queue, its own MDI queue (the first stage of its
  chain) and the other sources' MDI items it runs as a helper. Min-queue admission keeps the two
  queues of a source equal, and Eq. 2 compares ``q_l`` with the *differential*
  ``q_i^i - q_succ`` which is smaller, so the source serves its local queue and its own MDI items
  wait until the arrivals stop. The CSV's ``phase`` column splits the counts at the last arrival.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.costmodels.stages.queue_policies import get_scheduler
from splitgym.costmodels.stages.queue_sim import QueueSim
from splitgym.envs.msmdi_scenarios import get_mdi_scenario
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["allocation_rows", "served_per_queue", "main"]

QUEUES = ("local", "own MDI", "other MDI")


def allocation_rows(scenarios: list[str], weights: tuple[str, ...] = ("params", "flops")) -> list[dict[str, Any]]:
    """AR-MDI's chain of source 0 in each scenario and weight: stages, source share, empty stages."""
    rows = []
    for name in scenarios:
        for weight in weights:
            sim = QueueSim(get_mdi_scenario(name).system(weight=weight))
            secs = {m: sim.stage_seconds(0, m) for m, _, _ in sim.stages[0]}
            total = sum(secs.values())
            src = sim.sys.sources[0]
            rows.append(
                {
                    "scenario": name,
                    "workers": sim.N,
                    "weight": weight,
                    "stages": " ".join(f"w{m}:{a}-{b - 1}" for m, a, b in sim.stages[0]),
                    "source_compute_share": round(secs.get(src, 0.0) / total, 3),
                    "empty_stages": sim.N - len(sim.stages[0]),
                    "slowest_stage_s": round(max(secs.values()), 4),
                    "image_s": round(total, 4),
                }
            )
    return rows


def served_per_queue(scenario: str, seed: int, bins: int, **options: str) -> tuple[list[dict[str, Any]], float]:
    """Cumulative items served per (source worker, queue) at ``bins`` times, and the last arrival."""
    system = get_mdi_scenario(scenario).system()
    sim = QueueSim(system, seed=seed, record=True)
    res = sim.run(get_scheduler("ms-mdi", **options))
    last_arrival = float(res.arrive.max())
    times = np.linspace(0.0, res.makespan_s, bins + 1)[1:]
    rows = []
    for s, w in enumerate(system.sources):
        starts = {q: [] for q in QUEUES}
        for t, n, k, _, _, local in sim.trace:
            if n == w:
                q = "local" if local else "own MDI" if sim.src[k] == s else "other MDI"
                starts[q].append(t)
        for q, ts in starts.items():
            arr = np.sort(np.asarray(ts))
            rows += [
                {
                    "scenario": scenario,
                    "worker": w,
                    "queue": q,
                    "time_s": round(float(t), 1),
                    "served": int(np.searchsorted(arr, t, side="right")),
                    "phase": "arrivals" if t <= last_arrival else "drain",
                }
                for t in times
            ]
    return rows, last_arrival


def _plot(rows: list[dict[str, Any]], last_arrival: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workers = sorted({r["worker"] for r in rows})
    fig, axes = plt.subplots(1, len(workers), figsize=(6 * len(workers), 4), squeeze=False)
    for ax, w in zip(axes[0], workers):
        for q in QUEUES:
            pts = [(r["time_s"], r["served"]) for r in rows if r["worker"] == w and r["queue"] == q]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=q)
        ax.axvline(last_arrival, color="grey", ls=":", label="last arrival")
        ax.set(title=f"{rows[0]['scenario']}, ms-mdi: source worker {w}", xlabel="time (s)", ylabel="items served")
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="ms-mdi-3")
    ap.add_argument("--allocation", nargs="+", default=["ms-mdi-2", "ms-mdi-3", "ms-mdi-4", "ms-mdi-5"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bins", type=int, default=60)
    ap.add_argument("--out", default=RESULTS_DIR)
    args = ap.parse_args(argv)
    out = Path(args.out)
    alloc = allocation_rows(args.allocation)
    write_csv(out / "msmdi_allocation.csv", alloc)
    rows, last_arrival = served_per_queue(args.scenario, args.seed, args.bins)
    write_csv(out / "msmdi_starvation.csv", rows)
    _plot(rows, last_arrival, out / "msmdi_starvation.png")
    at_last = {
        (r["worker"], r["queue"]): r["served"] for r in rows if r["phase"] == "arrivals"
    }  # the last bin before the last arrival wins
    for a in alloc:
        print(a)
    print(f"served while images arrive (to {last_arrival:.0f} s): {at_last}")
    print(f"wrote {out}/msmdi_allocation.csv, msmdi_starvation.csv and .png")
    return {"allocation": alloc, "served_while_arriving": at_last, "last_arrival_s": last_arrival}


if __name__ == "__main__":
    main()
