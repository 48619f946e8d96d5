"""HyPS's claims table: every figure of its evaluation (Figs. 8, 9, 11, 12 and the fc6 part
count) beside ours, with the measured why (issue 19, item 2).

    python -m splitgym.experiments.hyps_claims_table   # -> experiments/results/hyps_claims_table.{csv,md}

``hyps_tables`` writes ``hyps_claims.csv`` (claim, paper, ours); this table adds the figure, the
source and why ours differs, every number of it read from ``hyps_parts.csv`` (fc6 in 4..50 parts,
cost model), ``hyps_measured.csv`` (the fc6 parts run for real), ``hyps_cuts.csv`` (partitions
ending at conv vs pool), ``hyps_layers.csv`` (the 21 layers, with a real hub run) and the memory
calibration ``costmodels/data/hyps_memory.json`` (:mod:`hyps_memory`: each fc6 part's measured
address space; it writes no CSV). The paper's figures are constants here, with the figure they
come from (PAPERS-AUDIT A.4). Nothing is re-run; a missing CSV gives "not run" and its command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from splitgym.costmodels.cluster import conf_dir
from splitgym.costmodels.neurons.neuron_spans import MEMORY_FILE
from splitgym.experiments.claims_table import NOT_RUN, Sources, claims_main, row
from splitgym.experiments.hyps_claims_layers import layer_rows

__all__ = ["COMMANDS", "MEMORY", "claim_rows", "main"]

TABLES = "python -m splitgym.experiments.hyps_tables"
COMMANDS = {
    "hyps_parts.csv": f"{TABLES} parts",
    "hyps_measured.csv": f"{TABLES} measured",
    "hyps_cuts.csv": f"{TABLES} cuts",
    "hyps_layers.csv": f"{TABLES} layers --hub",
    "hyps_claims.csv": f"{TABLES} all",
}
MEMORY = MEMORY_FILE  # hyps_memory's calibration, with its cases
PI = conf_dir() / "devices" / "pi3b-1.yaml"  # the Pi whose budget the part count is planned for
MIB = 2**20
FC6 = "Sec. V (Fig. 12)"  # H5: the fc6 part count, stated beside Fig. 12 (HY L336)


def _fc6_fit() -> tuple[dict[str, float], dict[str, Any]]:
    """Each fc6 case's measured address space (MiB) and the calibration file."""
    data = json.loads(MEMORY.read_text())
    return {c["case"]: c["address_space_bytes"] / MIB for c in data["cases"] if c["case"].startswith("fc6/")}, data


def _budget_mib() -> float:
    dev = yaml.safe_load(PI.read_text())["devices"][0]
    return float(dev["memory_mb"] - dev["reserved_mb"])


def _fewest(res: Sources, claim: str, paper: str, key: str, budget_mib: float) -> dict[str, str]:
    """H5: fc6's fewest parts (``hyps_claims.csv`` holds the planner's count), beside the measured
    address space of that many parts and one fewer, and the budget."""
    gone = res.absent(FC6, claim, paper, "hyps_claims.csv")
    if gone:
        return gone
    cell = str(next(r["ours"] for r in res.rows("hyps_claims.csv") if r["claim"].startswith(key)))
    k, sizes = int(cell.split(maxsplit=1)[0].rstrip(":")), _fc6_fit()[0]
    why = (
        f"measured address space: fc6/{k - 1} {sizes[f'fc6/{k - 1}']:.1f} MiB, fc6/{k} {sizes[f'fc6/{k}']:.1f} MiB, "
        f"against {budget_mib:.0f} MiB (`hyps_memory.json`)"
    )
    return row(FC6, claim, paper, cell, f"hyps_claims.csv, costmodels/data/{MEMORY.name}", why)


def _fc6_rows(res: Sources) -> list[dict[str, str]]:
    """H5 (HY L209, L336) on our Pi, and on the former 240 MiB calibration."""
    pi = _fewest(res, "fewest fc6 parts on a 1 GB Pi", "4", "fewest fc6 parts on a 1 GB", _budget_mib())
    if pi["source"] != NOT_RUN:
        pi["why"] += f"; the Pi's budget is the one calibrated number (`conf/devices/{PI.name}`)"
    old = _fewest(res, "fewest fc6 parts with 240 MiB free", "4 (its runtime)", "fewest fc6 parts with 240", 240)
    if old["source"] != NOT_RUN:
        data = _fc6_fit()[1]
        load = next(c for c in data["extra"] if "torch.load" in c["case"])
        old["why"] += (
            f"; our worker holds a part's weights once (fitted {data['weights']:.2f} x weights), a `torch.load` "
            f"runtime like the paper's Keras loader {load['address_space_bytes'] / load['weight_bytes']:.1f}x: "
            "the part count is the runtime's, not the Pi's"
        )
    return [pi, old]


def _slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs`` (the cost of one more part)."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def _fig12_rows(res: Sources) -> list[dict[str, str]]:
    """Fig. 12 (HY L338): time flat to 8 parts, 2x at 50; communication lowest at 4 parts."""
    claims = [
        ("Fig. 12a", "inference time roughly flat up to 8 fc6 parts", "flat"),
        ("Fig. 12a", "inference time at 50 fc6 parts over 4 parts", "2x"),
        ("Fig. 12b", "communication lowest at", "4 parts"),
    ]
    gone = [res.absent(f, c, p, "hyps_parts.csv", "hyps_measured.csv") for f, c, p in claims]
    if gone[0]:
        return gone  # type: ignore[return-value]
    parts = {r["parts"]: r for r in res.rows("hyps_parts.csv")}
    real = {r["parts"]: r["fc6_measured_s"] for r in res.rows("hyps_measured.csv")}
    ks, lo, hi = sorted(parts), min(parts), max(parts)
    comm = _slope(ks, [parts[k]["communication_s"] for k in ks])
    setup = _slope(sorted(real), [real[k] for k in sorted(real)])
    compute = sorted({round(parts[k]["compute_s"], 6) for k in ks})
    model_txt = (
        f"the cost model adds {comm * 1e3:.1f} ms of communication per part (fc6's input out and its slice back "
        f"on `pi-lan`) to a compute that stays {compute[0]:.2f} s"
    )
    real_txt = f"the real hub adds {setup:.2f} s per part (shipping its weights, rebuilding it: `hyps_measured.csv`)"
    flat = f"T(8)/T({lo}) = {parts[8]['time_s'] / parts[lo]['time_s']:.3f} (model), fc6 run for real "
    flat += f"{real[8] / real[lo]:.2f}x"
    many = f"{parts[hi]['time_s'] / parts[lo]['time_s']:.2f}x (model, whole inference), fc6 run for real "
    many += f"{real[hi] / real[lo]:.2f}x"
    best = min(ks, key=lambda k: parts[k]["communication_s"])
    mine = [flat, many, f"{best} parts (model, of {lo}-{hi})"]
    whys = [
        f"the model agrees, the real fc6 does not: {model_txt}; {real_txt}",
        f"the paper's 2x lies between the two: {model_txt}; {real_txt}, which the model leaves out "
        "(HyPS deploys partitions before inference)",
        f"agrees: {model_txt}, so the fewest parts that fit move the least",
    ]
    source = "hyps_parts.csv, hyps_measured.csv"
    return [row(f, c, p, o, source, w) for (f, c, p), o, w in zip(claims, mine, whys)]


def claim_rows(out: Path) -> list[dict[str, str]]:
    """Every claim row, in the paper's order, from the CSVs under ``out``."""
    res = Sources(out, COMMANDS)
    return layer_rows(res) + _fig12_rows(res) + _fc6_rows(res)


def main(argv: list[str] | None = None) -> str:
    return claims_main(argv, __doc__ or "", "hyps_claims_table", claim_rows)


if __name__ == "__main__":
    main()
