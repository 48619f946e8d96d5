"""MS-MDI for real from the command line: one gloo ring run per policy, one JSON line each.

``python -m splitgym.experiments.mdi_ring_run --workers 3 --policies ms-mdi ar-mdi local learned
--learned RUN [--csv experiments/results/msmdi_ring.csv]``. With ``--csv`` the runs also become
rows of a results CSV (commit and command stamped, as every table the README quotes), replacing
the rows of the same model, input, worker count, policy and mode, so that runs of several worker
counts, one command each, gather into one table. It lives here, not beside the ring executor,
because the learned policy is an agent: the executor takes its loader as an argument (imports run
experiments -> agents -> envs -> executors -> costmodels).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path
from typing import Any

from splitgym.agents.learned_admission import LearnedAdmission
from splitgym.costmodels.stages.queue_policies import SCHEDULERS
from splitgym.executors.stages.mdi_ring import MODES, local_system, run_mdi_ring, sim_policy
from splitgym.experiments.results_csv import read_csv, write_csv

__all__ = ["KEY", "csv_row", "merge_rows", "main"]

KEY = ("model", "input", "workers", "policy", "mode")  # one row per ring set-up


def csv_row(record: dict[str, Any]) -> dict[str, Any]:
    """A JSON line as a CSV row: the per-worker compute times joined (one cell), the load added."""
    row = {k: v for k, v in record.items() if k != "compute_s"}
    row["compute_s"] = ";".join(f"{c:.4f}" for c in record["compute_s"])
    row["load_1min"] = round(os.getloadavg()[0], 2)
    return row


def merge_rows(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``old`` without the set-ups ``new`` re-ran, then ``new``: re-running replaces, never duplicates."""
    redone = {tuple(str(r[k]) for k in KEY) for r in new}
    return [r for r in old if tuple(str(r.get(k)) for k in KEY) not in redone] + new


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="MS-MDI for real: a ring of gloo processes on this CPU")
    ap.add_argument("--model", default="vgg11")
    ap.add_argument("--input", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sources", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--rates", type=float, nargs="+", default=[100.0, 200.0])
    ap.add_argument("--images", type=int, nargs="+", default=[20, 40])
    ap.add_argument("--policies", nargs="+", default=["ms-mdi", "ar-mdi", "local"], choices=[*SCHEDULERS, "learned"])
    ap.add_argument("--learned", default=None, help="training run folder of the learned policy")
    ap.add_argument("--mode", default="live", choices=MODES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--csv", type=Path, default=None, help="also write the runs as rows of this results CSV")
    args = ap.parse_args(argv)
    graph, system = local_system(args.model, args.input, args.workers, args.sources, args.rates, args.images)
    loader = functools.partial(LearnedAdmission.load, rates=tuple(system.rates))  # an MSMDI-v1 policy observes them
    records: list[dict[str, Any]] = []
    for p in args.policies:
        r = run_mdi_ring(
            graph,
            system,
            p,
            seed=args.seed,
            mode=args.mode,
            learned=args.learned,
            loader=loader,
            timeout_s=args.timeout,
        )
        bad = r.check(sim_policy(p, args.learned, system, loader))
        record = {
            "model": args.model,
            "input": args.input,
            "workers": args.workers,
            "images": sum(args.images),
            **r.to_json(),
            "decisions_not_the_policys": len(bad),
        }
        print(json.dumps(record), flush=True)
        records.append(record)
    if args.csv is not None:
        command = " ".join(["python -m splitgym.experiments.mdi_ring_run", *(sys.argv[1:] if argv is None else argv)])
        write_csv(args.csv, merge_rows(read_csv(args.csv), [csv_row(r) for r in records]), command=command)


if __name__ == "__main__":
    main()
