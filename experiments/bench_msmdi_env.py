"""Benchmark: MSMDI-v0's action check, ``np.isin`` (before issue 21) against the set test now, in one run.

    python -m splitgym.experiments.bench_msmdi_env [--episodes 5] [--repeats 3] [--calls 20000]

Two measures, old and new side by side in every repeat, in alternating order (medians over
repeats, load average before and after): the check alone on the action SB3 hands the env (an
int64 array of S = 2 bits), in microseconds per call, and whole episodes of ``ms-mdi-3-small``
under the ms-mdi reference action, in steps/s, with the check's share of one step. The old check is the copy kept in
:mod:`splitgym.experiments.bench_steps` (which tests/test_hot_paths.py holds equal to the new one).
Writes ``bench_msmdi_env.json`` and, for the README's spans, ``bench_msmdi_env.csv`` (one stamped
row per check: the same figures, 1-minute load before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import timeit
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.costmodels.atomic import atomic_write
from splitgym.envs.msmdi import MSMDIEnv, admission_decision
from splitgym.experiments.bench_steps import legacy, legacy_admission, msmdi_run
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv


def check_us(calls: int) -> dict[str, float]:
    """Microseconds per action check, old and new, on one int64 action of two bits."""
    a = np.array([1, 0], dtype=np.int64)
    return {
        "old": 1e6 * timeit.timeit(lambda: legacy_admission(a, 2), number=calls) / calls,
        "new": 1e6 * timeit.timeit(lambda: admission_decision(a, 2), number=calls) / calls,
    }


def csv_rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON's figures as one row per check (``old``, ``new``), so a README span picks each by
    ``variant=``; the speed-up is the two rows' ``steps_per_s`` ratio."""
    (load0, load1) = out["load"]
    return [
        {
            "variant": k,
            "check_us": out["check_us"][k],
            "steps_per_s": out["steps_per_s"][k],
            "check_share_of_step": out["check_share_of_step"][k],
            "repeats": out["repeats"],
            "load_before": round(load0[0], 2),
            "load_after": round(load1[0], 2),
        }
        for k in ("old", "new")
    ]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=5, help="MSMDI-v0 episodes per repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--calls", type=int, default=20_000, help="action checks timed per repeat")
    ap.add_argument("--out", default=RESULTS_DIR, help="writes bench_msmdi_env.json/.csv there ('' : print only)")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()
    run = msmdi_run(MSMDIEnv("ms-mdi-3-small"), args.episodes)
    checks: dict[str, list[float]] = {"old": [], "new": []}
    rates: dict[str, list[float]] = {"old": [], "new": []}
    for i in range(args.repeats):
        for k, v in check_us(args.calls).items():
            checks[k].append(v)
        for variant in ("old", "new") if i % 2 == 0 else ("new", "old"):  # alternate: no order bias
            with legacy(variant == "old"):
                t = timeit.default_timer()
                steps = run()
                rates[variant].append(steps / (timeit.default_timer() - t))
    med_us = {k: statistics.median(v) for k, v in checks.items()}
    med_sps = {k: statistics.median(v) for k, v in rates.items()}
    out = {
        "check_us": {k: round(v, 3) for k, v in med_us.items()},
        "steps_per_s": {k: round(v) for k, v in med_sps.items()},
        # the check's share of one step: its time over the step's time (1 / steps/s)
        "check_share_of_step": {k: round(med_us[k] * 1e-6 * med_sps[k], 3) for k in med_us},
        "step_speedup": round(med_sps["new"] / med_sps["old"], 3),
        "repeats": args.repeats,
        "load": [load0, os.getloadavg()],
    }
    print(json.dumps(out, indent=1))
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        atomic_write((Path(args.out) / "bench_msmdi_env.json"), json.dumps(out, indent=1) + "\n")
        write_csv(Path(args.out) / "bench_msmdi_env.csv", csv_rows(out))
    return out


if __name__ == "__main__":
    main()
