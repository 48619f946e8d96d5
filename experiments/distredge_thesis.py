"""DistrEdge's thesis, tested: does DRL beat the classical planners more on nonlinear (GPU-shaped)
boards than on linear ones? (issue 17, item 5)

    python -m splitgym.experiments.distredge_thesis                     # every group, 3 seeds, both boards
    python -m splitgym.experiments.distredge_thesis --groups DB_bw300 --seeds 0 --episodes 200 \
        --model vgg11 --input 64                                        # a quick check

DistrEdge's abstract and Section II claim that real edge devices have nonlinear latency-versus-
configuration characters that linear-ratio planners (AOFL, CoEdge, MoDNN) cannot balance and DRL
can. So each group of Tables I-III runs twice: on the derived boards as they are (Jetsons follow
the GPU wave model, ``costmodels/gpu_shape.py``) and on *linear boards* (every device
``derive: linear``: the local CPU's per-unit linear fit scaled by one number per board, the shape
every derived board had before the wave model). Per group, board shape, DistrEdge variant
(``paper``, ``ours``: distredge_tables.VARIANTS) and seed, one training run of the Hydra app
records the learned plan and every classical planner on the same cost model (``summary.json``);
this script adds the exact search (``agents/planners/volumes/exact.py``) on the learned plan's own
partition where it fits ``--max-candidates`` (cached per run folder), and writes

- ``thesis_runs.csv``: one line per run: learned, best classical, exact latencies and the gains
  (best classical / learned, exact / learned: > 1 means DRL is faster);
- ``thesis.csv`` and ``thesis.md``: per group, board shape and variant, the median gain over the
  seeds with its min and max, linear beside GPU-shaped.

Runs whose ``summary.json`` exists are reused (``--out``/runs/thesis/...), but only while fresh:
each run folder records the commit it trained on (``provenance.json``), and a run whose commit is
unknown or whose code changed since (``results_check``) stops the script in one line, unless
``--rerun-stale`` (train it again) or ``--keep-stale`` (collect it with its old commit).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import yaml

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.cluster import load_conf
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.provenance import UNKNOWN, command_line, read_run_provenance
from splitgym.experiments.distredge_tables import MAX_EPISODES, VARIANTS, train_run
from splitgym.experiments.results_check import refusal, stale_rows
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["GROUPS", "BOARDS", "linear_devices", "exact_on_partition", "summarise", "main"]

# (devices, network, overrides): DistrEdge's Table I (DA, DB, DC at 50 and 300 Mbps), Table II's
# Nano group on network NA, Table III's LB (16 devices: the paper's exploration variance 1.0)
GROUPS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    **{f"{d}_bw{b}": (d, f"bw{b}", ()) for d in ("DA", "DB", "DC") for b in (50, 300)},
    "all-nano_NA": ("all-nano", "NA", ()),
    "LB_LB": ("LB", "LB", ("agent.noise.variance=1.0",)),
}
BOARDS = ("gpu", "linear")


def linear_devices(group: str, folder: Path) -> Path:
    """A copy of a devices group whose derived boards all say ``derive: linear``."""
    cfg = load_conf("devices", group)
    for dev in cfg["devices"]:
        if not str(dev["board"]).startswith("local-"):
            dev["derive"] = "linear"
    cfg["name"] = f"{cfg.get('name', group)}-linear"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{group}-linear.yaml"
    atomic_write(path, yaml.safe_dump(cfg, sort_keys=False))
    return path


def exact_on_partition(plan_path: Path, grid: int, max_candidates: int) -> tuple[float | None, str]:
    """The exact search's latency (ms) on the learned plan's partition and cluster, or None and
    why (too many candidates: the search refuses before starting)."""
    from splitgym.agents.planners.volumes.exact import plan_exact
    from splitgym.costmodels.graph import ModelGraph
    from splitgym.costmodels.plan import load_plan

    plan = load_plan(plan_path)
    graph = ModelGraph.from_torchvision(plan.model.name, input_size=plan.model.input[1], weights=False)
    starts = ",".join(str(first) for first, _ in plan.partition)
    try:
        best = plan_exact(graph, plan.cluster(), partition=starts, grid=grid, max_candidates=max_candidates)
    except ConfigError as exc:
        return None, str(exc)
    return float(best.meta["latency_s"]) * 1e3, f"grid {grid}, {best.meta['candidates']:,} candidates"


def _cached_exact(run: Path, grid: int, max_candidates: int) -> tuple[float | None, str]:
    """:func:`exact_on_partition` once per run folder, grid and limit (the search takes seconds
    to minutes; collecting again reads it back)."""
    path = run / f"exact_grid{grid}_max{max_candidates}.json"
    if path.exists():
        got = json.loads(path.read_text())
        return got["exact_ms"], got["note"]
    exact_ms, note = exact_on_partition(run / "export" / "plan.json", grid, max_candidates)
    atomic_write(path, json.dumps({"exact_ms": exact_ms, "note": note}))
    return exact_ms, note


def run_folder(out: Path, key: dict[str, Any]) -> Path:
    return out / "runs" / "thesis" / key["group"] / key["boards"] / key["variant"] / f"seed{key['seed']}"


def run_one(
    out: Path, key: dict[str, Any], extra: list[str], episodes: int, exact: tuple[int, int], collect_only: bool = False
) -> dict[str, Any] | None:
    """Train (unless done; with ``collect_only`` a missing run is None) and read one run: group x
    board shape x variant x seed."""
    devices, network, overrides = GROUPS[key["group"]]
    run = run_folder(out, key)
    summary = run / "export" / "summary.json"
    if not summary.exists() and collect_only:
        return None
    if not summary.exists():
        if key["boards"] == "linear":
            dev = ["devices=file", f"devices.path={linear_devices(devices, out / 'runs' / 'thesis' / 'devices')}"]
        else:
            dev = [f"devices={devices}"]
        budget = min(episodes, MAX_EPISODES.get(key["variant"], episodes))
        settings = [*dev, f"network={network}", f"episodes={budget}", f"seed={key['seed']}"]
        train_run(run, settings, [*overrides, *VARIANTS[key["variant"]], *extra])
    s = json.loads(summary.read_text())
    learned = float(s["latency_ms"]["learned_plan"])
    best = s["best_classical"]
    best_ms = float(s["classical_latency_ms"][best])
    exact_ms, exact_note = _cached_exact(run, *exact)
    return {
        **key,
        "episodes": s["episodes"],
        "learned_ms": learned,
        "best_classical": best,
        "best_classical_ms": best_ms,
        "exact_ms": exact_ms,
        "exact_note": exact_note,
        "gain_over_best": best_ms / learned,
        "gain_over_exact": None if exact_ms is None else exact_ms / learned,
        "partition": "|".join(f"{a}-{b}" for a, b in s["partition"]),
        # the run's commit (recorded by train_run before it trained; unknown for older runs)
        "commit": read_run_provenance(run)["commit"],
        "command": command_line(),
    }


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per group, board shape and variant: the gains' median, min and max over the seeds."""
    out = []
    keys = dict.fromkeys((r["group"], r["boards"], r["variant"]) for r in rows)
    for group, boards, variant in keys:
        mine = [r for r in rows if (r["group"], r["boards"], r["variant"]) == (group, boards, variant)]
        best = _spread([r["gain_over_best"] for r in mine])
        exact = _spread([r["gain_over_exact"] for r in mine if r["gain_over_exact"] is not None])
        out.append(
            {
                "group": group,
                "boards": boards,
                "variant": variant,
                "seeds": len(mine),
                **{f"over_best_{k}": v for k, v in best.items()},
                **{f"over_exact_{k}": v for k, v in exact.items()},
                "best_classical": ",".join(sorted({r["best_classical"] for r in mine})),
                # every seed's commit: a summary is stale when any of its runs is
                "commit": "|".join(sorted({str(r.get("commit") or UNKNOWN) for r in mine})),
                "command": mine[0].get("command") or UNKNOWN,
            }
        )
    return out


def markdown(summary: list[dict[str, Any]]) -> str:
    def cell(row: dict[str, Any], what: str) -> str:
        if row[f"{what}_median"] is None:
            return "n/a"
        return f"{row[f'{what}_median']:.3f} ({row[f'{what}_min']:.3f}-{row[f'{what}_max']:.3f})"

    lines = [
        "| group | boards | variant | seeds | DRL over best classical | DRL over exact | best classical |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in summary:
        lines.append(
            f"| {r['group']} | {r['boards']} | {r['variant']} | {r['seeds']} | {cell(r, 'over_best')} | "
            f"{cell(r, 'over_exact')} | {r['best_classical']} |"
        )
    return (
        "\n".join(lines)
        + "\n\nGains: latency of the reference / DRL's latency (> 1: DRL faster); median (min-max) over seeds.\n"
    )


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", default=",".join(GROUPS), help=f"comma-separated from {', '.join(GROUPS)}")
    ap.add_argument("--boards", default=",".join(BOARDS), help="gpu (the derived boards as they are), linear")
    ap.add_argument("--variants", default="paper,ours", help=f"DistrEdge variants from {sorted(VARIANTS)}")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--episodes", type=int, default=4000, help="budget per run (a variant's own cap applies)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--input", type=int, default=None)
    ap.add_argument("--exact-grid", type=int, default=8)
    ap.add_argument(
        "--max-candidates",
        type=int,
        default=4_000_000,
        help="larger exact searches are skipped (3 volumes x 4 devices fit)",
    )
    ap.add_argument("--out", default=RESULTS_DIR)
    ap.add_argument("--collect", action="store_true", help="only collect the finished runs, launch nothing")
    ap.add_argument(
        "--rerun-stale",
        action="store_true",
        help="train again the runs whose commit is unknown or whose code changed since (old folders moved aside)",
    )
    ap.add_argument(
        "--keep-stale",
        action="store_true",
        help="collect stale or unknown runs anyway: their rows keep their commit, and results_check lists them",
    )
    args = ap.parse_args(argv)
    for name, known in (("groups", GROUPS), ("boards", BOARDS), ("variants", VARIANTS)):
        bad = [v for v in getattr(args, name).split(",") if v not in known]
        if bad:
            ap.error(f"--{name}: unknown {bad[0]!r} (known: {', '.join(known)})")
    return args


def _rows(args: argparse.Namespace, out: Path, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    extra = ([f"model={args.model}"] if args.model else []) + ([f"model.input={args.input}"] if args.input else [])
    exact = (args.exact_grid, args.max_candidates)
    rows = [run_one(out, k, extra, args.episodes, exact, args.collect) for k in keys]
    return [r for r in rows if r is not None]


def _fresh(args: argparse.Namespace, out: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows``, once none is stale: refused in one line, or (``--rerun-stale``) trained again
    after moving the old run folders aside; ``--keep-stale`` keeps them as they are."""
    bad = stale_rows(rows)
    if bad and args.rerun_stale and not args.collect:
        keys = [{k: r[k] for k in ("group", "boards", "variant", "seed")} for r, _, _ in bad]
        stamp = time.strftime("%Y%m%d%H%M%S")
        for k in keys:
            run = run_folder(out, k)
            run.rename(run.with_name(f"{run.name}.stale-{stamp}"))
        again = {tuple(r.values()): r for r in _rows(args, out, keys)}
        rows = [again.get(tuple(r[k] for k in ("group", "boards", "variant", "seed")), r) for r in rows]
        bad = stale_rows(rows)
    if bad and not args.keep_stale:
        hint = "train them again with --rerun-stale, or collect them anyway with --keep-stale"
        raise SystemExit(refusal(out / "thesis_runs.csv", bad, ("group", "boards", "variant", "seed"), hint))
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = _args(argv)
    out = Path(args.out)
    keys = [  # seeds outermost: a run stopped part-way has every group at the first seeds
        {"group": g, "boards": b, "variant": v, "seed": int(s)}
        for s in args.seeds.split(",")
        for g in args.groups.split(",")
        for b in args.boards.split(",")
        for v in args.variants.split(",")
    ]
    rows = _rows(args, out, keys)
    if not rows:
        raise SystemExit("no finished runs to collect")
    rows = _fresh(args, out, rows)
    summary = summarise(rows)
    write_csv(out / "thesis_runs.csv", rows)
    write_csv(out / "thesis.csv", summary)
    atomic_write(out / "thesis.md", markdown(summary))
    print(markdown(summary))
    return summary


if __name__ == "__main__":
    main()
