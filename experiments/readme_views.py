"""Renderers of the README's result tables (experiments/readme_figures.py): one small function per
view, each given the rows of the CSVs its marker names, returning the Markdown table.

Only the paper's figures (which no CSV holds: PAPERS-AUDIT) are constants here, written beside
the columns they are compared with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["VIEWS", "table"]

Rows = list[dict[str, Any]]


def table(header: list[str], body: list[list[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rows = ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines + [r.replace("|  |", "| |") for r in rows]) + "\n"


def _span(values: list[float], digits: int = 2) -> str:
    lo, hi = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return lo if lo == hi else f"{lo}-{hi}"


# -- DistrEdge's thesis (thesis.csv): DRL over the best classical plan, median (min-max) over seeds
THESIS_GROUPS = {"all-nano_NA": "Nano NA", "LB_LB": "LB (16)"}  # others: DA_bw50 -> "DA 50"


def thesis(rows: Rows) -> str:
    def label(group: str) -> str:
        return THESIS_GROUPS.get(group) or group.replace("_bw", " ")

    cols = [("paper", "gpu"), ("paper", "linear"), ("ours", "gpu"), ("ours", "linear")]
    cell = {(r["group"], r["variant"], r["boards"]): r for r in rows}
    body = []
    for group in dict.fromkeys(r["group"] for r in rows):
        mine = [cell.get((group, v, b)) for v, b in cols]
        body.append(
            [label(group)]
            + [
                "" if r is None else f"{r['over_best_median']:.3f} ({r['over_best_min']:.3f}-{r['over_best_max']:.3f})"
                for r in mine
            ]
        )
    header = ["group", "paper, GPU-shaped", "paper, linear", "ours, GPU-shaped", "ours, linear"]
    return table(header, body)


# -- DistrEdge's models (distredge_models_extra.csv): the training-free start against the planners
CLASSICAL = ("equal", "coedge", "modnn", "mednn", "deepthings", "deeperthings", "aofl", "offload")


def models_extra(rows: Rows) -> str:
    body = []
    for group in dict.fromkeys(r["group"] for r in rows):
        mine = [r for r in rows if r["group"] == group]
        label = str(group).replace(" Mbps", "").replace("all-nano", "Nano")
        for model in dict.fromkeys(r["model"] for r in mine):
            ms = {r["method"]: r for r in mine if r["model"] == model}
            best = min((ms[m] for m in CLASSICAL if m in ms), key=lambda r: r["latency_ms"])
            search = ms["pilot-search"]["latency_ms"]
            body.append(
                [label, model, best["units"], f"{100 * best['head_flops_share']:.1f}%"]
                + [f"{best['method']} {best['latency_ms']:.1f}"]
                + [f"{ms[m]['latency_ms']:.1f}" for m in ("aofl", "lcpss(a=0.75)+pilot", "lcpss-pilot", "pilot-search")]
                + [f"{best['latency_ms'] / search:.2f}x"]
            )
    header = ["group", "model", "units", "head FLOPs", "best classical", "AOFL", "LC-PSS a=0.75", "pilot"]
    return table(header + ["pilot search", "search / best"], body)


# -- NPTP (nptp_bandwidth.csv, nptp_bandwidth_eq9.csv): MPA's speed-up over CoEdge at 224, 0.1-1 MB/s
NPTP_PAPER = {"vgg11": "1.22-1.31", "vgg13": "1.32-1.43", "vgg16": "1.37-1.52", "vgg19": "1.45-1.58"}


def nptp_speedups(end_to_end: Rows, eq9: Rows) -> str:
    body = []
    for model in dict.fromkeys(r["model"] for r in end_to_end):
        row = [model.upper().replace("VGG", "VGG"), NPTP_PAPER.get(model, "")]
        for rows in (end_to_end, eq9):
            mine = [r for r in rows if r["model"] == model and r["size"] == 224 and 0.1 <= r["bandwidth_MBps"] <= 1]
            row += [_span([r["speedup"] for r in mine]), _span([r["speedup_lp"] for r in mine])]
        body.append(row)
    header = ["model", "paper", "end-to-end, vs best strips", "end-to-end, vs CoEdge LP"]
    return table(header + ["Eq. 9 alone, vs best strips", "Eq. 9 alone, vs CoEdge LP"], body)


# -- HiDP-v0 (hidp_env_ppo.csv): every policy on the held-out episodes, median over training seeds
HIDP_POLICIES = {
    "ppo": "PPO",
    "hidp": "HiDP (DP, re-planned per availability)",
    "disnet": "DisNet",
    "omniboost": "OmniBoost",
    "earliest-finish": "earliest finish (one-step look-ahead)",
}


def hidp_env_ppo(rows: Rows) -> str:
    from splitgym.experiments.hidp_env_ppo import summary  # its per-seed mean, then the median (SB3: lazily)

    def cell(r: dict[str, Any], m: str, digits: int) -> str:
        mid, lo, hi = (f"{r[k]:.{digits}f}" for k in (m, f"{m}_min", f"{m}_max"))
        return mid if lo == hi else f"{mid} [{lo} to {hi}]"

    body = [
        [HIDP_POLICIES.get(r["policy"], r["policy"])]
        + [cell(r, m, d) for m, d in (("return", 1), ("mean_latency_ms", 1), ("throughput_rps", 2))]
        for r in summary(rows)
    ]
    return table(["policy", "return", "mean latency (ms)", "throughput (req/s)"], body)


# -- DistrEdge's tables (<table>_summary.csv): each variant over the best baseline and over AOFL,
# median (min-max) over seeds; for the README once Tables I-III are re-run with --seeds 0,1,2
def distredge_summary(rows: Rows) -> str:
    by = {(r["run"], r["variant"]): r for r in rows}
    variants = list(dict.fromkeys(r["variant"] for r in rows))

    def cell(r: dict[str, Any] | None, what: str) -> str:
        if r is None:
            return ""
        return f"{r[what + '_median']:.2f} ({r[what + '_min']:.2f}-{r[what + '_max']:.2f})"

    body = []
    for run in dict.fromkeys(r["run"] for r in rows):
        mine = [by.get((run, v)) for v in variants]
        seeds = ",".join(sorted({str(r["seeds"]) for r in mine if r}))
        cells = [cell(r, w) for r in mine for w in ("over_best_baseline", "over_aofl")]
        best = ",".join(sorted({b for r in mine if r for b in r["best_baseline"].split(",")}))
        body.append([run, seeds, *cells, best])
    header = [f"{v}: {w}" for v in variants for w in ("over best baseline", "over AOFL")]
    return table(["group", "seeds", *header, "best baseline"], body)


# -- NPTP's env step rates (bench_nptp_env.csv): each case against NPTP-v0 with the loop scorer
def bench_nptp_env(rows: Rows) -> str:
    def ratio(x: float) -> str:
        return f"{x:.2f}" if x < 10 else f"{x:.1f}"

    body = [[r["case"], f"{r['steps_per_s']:,.0f}", ratio(r["ratio_to_v0_loop"])] for r in rows]
    return table(["case", "steps/s", "vs NPTP-v0 with the loop scorer"], body)


# -- LC-PSS's a sweep (alpha_summary.csv): the paper variant's IPS per environment and a (Fig. 4)
def alpha_sweep(rows: Rows) -> str:
    """One line per environment, one column per a: DistrEdge's IPS, median (min-max) over seeds,
    and the best a; run names are ``<devices>_<network>_alpha-<a>[_<more overrides>]``."""
    cell: dict[str, dict[float, dict[str, Any]]] = {}
    for r in rows:
        env, _, rest = r["run"].partition("_alpha-")
        cell.setdefault(env, {})[float(rest.split("_")[0])] = r
    alphas = sorted({a for env in cell.values() for a in env})
    body = []
    for env, by in cell.items():
        ips = [by.get(a) for a in alphas]
        best = max((a for a in alphas if a in by), key=lambda a: by[a]["distredge_ips_median"])
        body.append(
            [env.replace("_bw", " ").replace("_", " ")]
            + [
                ""
                if r is None
                else f"{r['distredge_ips_median']:.1f} ({r['distredge_ips_min']:.1f}-{r['distredge_ips_max']:.1f})"
                for r in ips
            ]
            + [f"{best:g}"]
        )
    return table(["environment", *(f"a = {a:g}" for a in alphas), "best a"], body)


# -- DistrEdge's claims (distredge_claims.csv): the table distredge_claims.md holds, made from its CSV
def distredge_claims(rows: Rows) -> str:
    from splitgym.experiments.distredge_claims import claims_markdown  # the one writer of this table

    return claims_markdown([{k: "" if v is None else str(v) for k, v in r.items()} for r in rows])


VIEWS: dict[str, Callable[..., str]] = {
    "distredge_claims": distredge_claims,
    "bench_nptp_env": bench_nptp_env,
    "distredge_summary": distredge_summary,
    "alpha_sweep": alpha_sweep,
    "hidp_env_ppo": hidp_env_ppo,
    "thesis": thesis,
    "models_extra": models_extra,
    "nptp_speedups": nptp_speedups,
}


# -- the claims tables (experiments/claims_table.py: NPTP, HyPS, HiDP): one row per claim of the
# paper's evaluation, its figure, the paper's value, ours, the CSV(s) it came from and the measured why
CLAIMS = {"figure": "figure", "claim": "claim", "paper": "paper", "ours": "ours", "source": "source"}
CLAIMS |= {"why": "why it differs (measured)"}


def claims(rows: Rows) -> str:
    """Every claim column the rows hold, in :data:`CLAIMS`' order (``|`` in a cell escaped)."""
    cols = [c for c in CLAIMS if rows and c in rows[0]]

    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|")

    return table([CLAIMS[c] for c in cols], [[cell(r[c]) for c in cols] for r in rows])


VIEWS["claims"] = claims


def _benchmark(rows: Rows) -> str:
    # a module of its own: it computes rliable's intervals, which the other views never need
    from splitgym.experiments.readme_view_benchmark import benchmark

    return benchmark(rows)


def _benchmark_instances(rows: Rows) -> str:
    from splitgym.experiments.readme_view_benchmark import benchmark_instances

    return benchmark_instances(rows)


VIEWS["benchmark"] = _benchmark
VIEWS["benchmark_instances"] = _benchmark_instances
