"""DistrEdge's claims that rest on its own tables' training runs: Table II (Fig. 7), Table III
(Fig. 8), the LC-PSS a sweep (Fig. 4) and the other models trained (Figs. 9-10).

Why a module of its own: these rows read ``distredge_tables``' outputs (``<table>.csv``, one line
per run, seed and method; ``<table>_ratios.csv``, DistrEdge over the best classical plan and over
AOFL per run and seed), not the thesis's, and each compares a set of groups with a range the paper
gives for them. Every number in a row, the "why" included, is computed here from those CSVs; a
table not made yet says "not run" and the command that makes it.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from splitgym.experiments.distredge_claims_data import NOT_RUN, Results, row, spread

__all__ = ["table2_rows", "table3_row", "alpha_rows", "models_row"]

#: Table II's groups and the paper's range over AOFL (PAPERS-AUDIT A.1.3, D7)
TABLE2 = {"NA": (1.2, 1.7), "NB": (1.1, 1.3), "NC": (1.1, 1.3), "ND": (1.2, 1.7)}
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _runs(rows: list[dict[str, Any]], run: str, variant: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["run"] == run and r["variant"] == variant]


def _within(value: float, rng: tuple[float, float]) -> bool:
    return rng[0] <= value <= rng[1]


def _groups_row(
    res: Results,
    figure: str,
    claim: str,
    paper: str,
    csv: str,
    groups: dict[str, tuple[str, tuple[float, float]]],
    measure: str = "over_aofl",
) -> dict[str, str]:
    """Groups (run name -> label, the paper's range of ``measure``) of one table against the
    paper: the median over seeds per variant, how many sit in the range, and the best classical
    plans. ``measure`` is ``over_aofl`` (Tables I-III: the paper's ranges are over AOFL) or
    ``over_best_baseline`` (Figs. 9-10: "beats the baselines by 1.1x to over 2.6x")."""
    if not res.has(csv):
        return row(figure, claim, paper, res.not_run(csv), NOT_RUN, "")
    rows = [r for r in res.rows(csv) if r["run"] in groups]
    cells, inside, beats, best = [], Counter(), Counter(), Counter()
    for variant in ("paper", "ours"):
        parts = []
        for run, (label, rng) in groups.items():
            mine = _runs(rows, run, variant)
            if not mine:
                continue
            med = statistics.median(r[measure] for r in mine)
            parts.append(f"{label} {spread(r[measure] for r in mine)}")
            inside[variant] += _within(med, rng)
            beats[variant] += all(r["over_best_baseline"] > 1 for r in mine)
            best.update({r["best_baseline"] for r in mine})
        cells.append(f"{variant} variant " + ", ".join(parts))
    n = len({r["run"] for r in rows})
    what = "over AOFL" if measure == "over_aofl" else "over the best classical plan"
    ours = f"{what}: " + "; ".join(cells) + " (median (min-max) over seeds)"
    why = (
        f"in the paper's range: paper variant {inside['paper']} of {n} groups, ours {inside['ours']} of {n}; "
        f"above the best classical plan on every seed: paper variant {beats['paper']} of {n}, ours "
        f"{beats['ours']} of {n}; best classical plans seen: " + ", ".join(f"{k} ({v})" for k, v in best.most_common())
    )
    return row(figure, claim, paper, ours, csv, why)


def table2_rows(res: Results) -> list[dict[str, str]]:
    """Fig. 7a (four Nanos) and 7b (four Xaviers) on NA-ND."""
    out = []
    for figure, board in (("Fig. 7a", "nano"), ("Fig. 7b", "xavier")):
        groups = {f"all-{board}_{n}": (n, rng) for n, rng in TABLE2.items()}
        claim = f"four {board.title()}s on NA-ND: DistrEdge over AOFL, best in all"
        out.append(_groups_row(res, figure, claim, "NA, ND 1.2-1.7x; NB, NC 1.1-1.3x", "table2_ratios.csv", groups))
    return out


def table3_row(res: Results) -> dict[str, str]:
    """Fig. 8 / Table III: 16 devices, LA-LD."""
    groups = {f"{g}_{g}_variance-1.0": (g, (1.3, 3.0)) for g in ("LA", "LB", "LC", "LD")}
    claim = "LA-LD (16 devices): DistrEdge over AOFL, best in all four"
    return _groups_row(res, "Fig. 8", claim, "1.3-3x", "table3_ratios.csv", groups)


def models_row(res: Results) -> dict[str, str]:
    """Figs. 9-10 trained: ResNet-50 and Inception-v3 on DB at 50 Mbps and four Nanos on NA."""
    groups = {
        f"{dev}_{net}_model-{m}": (f"{m} {label}", (1.1, 2.6))
        for m in ("resnet50", "inception_v3")
        for dev, net, label in (("DB", "bw50", "DB"), ("all-nano", "NA", "Nano NA"))
    }
    claim = "DistrEdge trained on ResNet-50 and Inception-v3 (DB at 50 Mbps, Nanos on NA)"
    csv = "models_ratios.csv"
    paper = "1.1 to >2.6x over the baselines"
    got = _groups_row(res, "Figs. 9-10", claim, paper, csv, groups, measure="over_best_baseline")
    if res.has(csv):
        over_aofl = [r["over_aofl"] for r in res.rows(csv) if r["run"] in groups]
        got["ours"] += f"; over AOFL: {spread(over_aofl)} (all runs)"
    return got


def _alpha_runs(res: Results) -> dict[tuple[str, str], dict[float, list[dict[str, Any]]]]:
    """The paper variant's runs of the a sweep per environment (devices, network) and a."""
    env: dict[tuple[str, str], dict[float, list[dict[str, Any]]]] = {}
    for r in res.rows("alpha.csv"):
        if r["method"] == "distredge":
            env.setdefault((r["devices"], r["network"]), {}).setdefault(float(r["alpha"]), []).append(r)
    return env


def _volumes(runs: list[dict[str, Any]]) -> str:
    counts = sorted({len(str(r["partition"]).split("|")) for r in runs})
    return "/".join(map(str, counts))


def alpha_rows(res: Results) -> list[dict[str, str]]:
    """Fig. 4: LC-PSS's volumes at a = 0 and 1, and the IPS of the paper variant per a."""
    text = ("Fig. 4 (text)", "LC-PSS volumes of VGG-16 at a = 0 and a = 1", "16 and 2")
    sweep = ("Fig. 4a-d", "a = 0.75 gives the highest IPS in all 4 environments; a = 0, 1 worst", "yes")
    if not res.has("alpha.csv"):
        return [row(*c, res.not_run("alpha.csv"), NOT_RUN, "") for c in (text, sweep)]
    env = _alpha_runs(res)
    vols = "; ".join(f"{d} {n}: {_volumes(a.get(0.0, []))} and {_volumes(a.get(1.0, []))}" for (d, n), a in env.items())
    every = "; ".join(
        f"{d} {n}: " + ", ".join(f"{k:g}: {_volumes(v)}" for k, v in sorted(a.items())) for (d, n), a in env.items()
    )
    rows = [row(*text, vols, "alpha.csv", f"volumes per a (LC-PSS's partition of each seed's run): {every}")]
    cells, best_075, ends_worst = [], 0, 0
    for (d, n), a in env.items():
        ips = {k: statistics.median(r["ips"] for r in v) for k, v in sorted(a.items())}
        top, low = max(ips, key=ips.get), min(ips, key=ips.get)
        best_075 += top == 0.75
        ends_worst += low in (0.0, 1.0)
        cells.append(f"{d} {n}: " + ", ".join(f"{k:g} {v:.1f}" for k, v in ips.items()) + f" (best {top:g})")
    ours = "DistrEdge IPS per a (median of seeds): " + "; ".join(cells)
    why = (
        f"a = 0.75 is the best in {best_075} of {len(env)} environments; the worst a is 0 or 1 in {ends_worst} "
        f"of {len(env)}; volumes per a in the row above"
    )
    return rows + [row(*sweep, ours, "alpha.csv", why)]
