"""Reproduce DistrEdge's experiments: IPS of every method per device/network group.

    python -m splitgym.experiments.distredge_tables table1            # DA/DB/DC at 50 and 300 Mbps
    python -m splitgym.experiments.distredge_tables table2            # NA..ND on Nanos and Xaviers
    python -m splitgym.experiments.distredge_tables table3            # LA..LD, 16 devices
    python -m splitgym.experiments.distredge_tables alpha             # LC-PSS's a in 0..1
    python -m splitgym.experiments.distredge_tables models            # ResNet-50, InceptionV3
    python -m splitgym.experiments.distredge_tables table1 --episodes 50 --model vgg11 --input 64

Every row runs two DistrEdge variants (``--variants``): ``paper`` (Eq. 9 cut actions, LC-PSS at
a = 0.75, DE's settings) and ``ours`` (``VARIANTS["ours"]``): actions around a linear-ratio split
(``env.action=shares``, costmodels/volumes/share_actions.py), the partition and that split's centre chosen per
cluster by the pilot's search (``env.partition=pilot-search``, costmodels/volumes/partition_pilot.py: LC-PSS
over a and the linear model's brute-force partition as seeds, whole-model and per-volume priors,
then boundary moves), a fresh actor whose first actions are exactly that centre
(``agent.actor_init_scale=0``) and which warms up around it (``agent.kwargs.warmup=actor``, 1200
warm-up steps), and smaller exploration noise drawn once per episode for all its 1000 episodes
(s^2 = 0.02, ``per_episode``, De = 1/1000), every 10th episode without noise
(``anchor_every=10``: the actor's own decision is played and recorded) at every cluster size.
1000, not 4000: with this start the best plan is found within the noisy episodes, and after them
the deterministic actor only drifts (see the README). The a table runs the paper variant only,
since the pilot picks the partition itself. Rows of a variant not run now are kept from the
table's CSV (:func:`merge`), so ``--variants ours`` re-runs one variant only, but only while they
are fresh: a kept row, or one collected from a finished run folder, whose code changed since its
commit (``results_check``) stops the script in one line naming it; ``--rerun-stale`` trains those
runs again instead (the old folders are moved aside). ``--seeds`` (default 0,1,2) trains each row once per
seed (``runs/<table>[-ours]/<row>/seed<k>``); ``<table>_summary.csv`` gives per row and variant
the median, min and max over the seeds.

Each row of a table is one training run of the Hydra app (``splitgym train``, Hydra multirun where
the rows form a grid), whose ``summary.json`` already holds the learned plan and every classical
planner on the same cost model; this script launches the runs that are missing, then collects the
summaries into ``experiments/results/<table>.csv`` (one line per group, method and seed) and
``<table>.png`` (IPS bars per group), and ``<table>_ratios.csv`` (DistrEdge over the best
baseline and over AOFL: the only numbers DistrEdge's text gives, PAPERS-AUDIT A.1.3).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from splitgym.costmodels.provenance import command_line, read_run_provenance, write_run_provenance
from splitgym.experiments.dependencies import module_of, paths_of
from splitgym.experiments.results_check import refusal, stale_rows
from splitgym.experiments.results_csv import RESULTS_DIR, read_csv, seed_spread, write_csv

# one entry per run: (devices, network, overrides)
Rows = list[tuple[str, str, tuple[str, ...]]]

ENVS_ALPHA = [("all-nano", "bw200"), ("DB", "bw300"), ("all-nano", "NA"), ("LB", "LB")]

TABLES: dict[str, Rows] = {
    "table1": [(d, f"bw{b}", ()) for d in ("DA", "DB", "DC") for b in (50, 300)],
    "table2": [(f"all-{board}", n, ()) for board in ("nano", "xavier") for n in ("NA", "NB", "NC", "ND")],
    "table3": [(g, g, ("agent.noise.variance=1.0",)) for g in ("LA", "LB", "LC", "LD")],
    "alpha": [
        (d, n, (f"env.alpha={a}",) + (("agent.noise.variance=1.0",) if d == "LB" else ()))
        for d, n in ENVS_ALPHA
        for a in (0.0, 0.25, 0.5, 0.75, 1.0)
    ],
    "models": [
        (d, n, (f"model={m}",)) for m in ("resnet50", "inception_v3") for d, n in (("DB", "bw50"), ("all-nano", "NA"))
    ],
}


VARIANTS: dict[str, tuple[str, ...]] = {
    "paper": (),
    "ours": (
        "env.action=shares",
        "env.partition=pilot-search",
        "agent.actor_init_scale=0",
        "agent.kwargs.warmup=actor",
        "agent.kwargs.learning_starts=1200",
        "agent.noise.variance=0.02",
        "agent.noise.per_episode=true",
        "agent.noise.decay=0.001",
        "agent.noise.anchor_every=10",
    ),
}
MAX_EPISODES = {"ours": 1000}  # a variant's own budget (at most ``--episodes``)
METHOD = {"paper": "distredge", "ours": "distredge-ours"}


def run_name(devices: str, network: str, overrides: tuple[str, ...]) -> str:
    # no "=" in folder names: they travel inside Hydra overrides (hydra.run.dir=...)
    extra = "_".join(o.split("=")[0].split(".")[-1] + "-" + o.split("=")[1] for o in overrides)
    return f"{devices}_{network}" + (f"_{extra}" if extra else "")


def run_dir(out: Path, table: str, name: str, variant: str, seed: int) -> Path:
    return out / "runs" / (table if variant == "paper" else f"{table}-{variant}") / name / f"seed{seed}"


# one training run: (devices, network, overrides, variant, seed)
Job = tuple[str, str, tuple[str, ...], str, int]


def jobs(table: str, variants: tuple[str, ...], seeds: tuple[int, ...], only: set[str] | None = None) -> list[Job]:
    """Every run of ``table`` (the rows named in ``only``) per variant and seed; seeds outermost,
    so a run stopped part-way has every row at the first seeds."""
    return [
        (d, n, o, v, s)
        for s in seeds
        for d, n, o in TABLES[table]
        for v in variants
        if not only or run_name(d, n, o) in only
    ]


def launch(
    table: str, out: Path, episodes: int, todo: list[Job], extra: list[str], run_missing: bool = True
) -> list[tuple[str, int, Path]]:
    """Run every job of ``todo`` whose folder holds no summary yet; returns ``(variant, seed, run
    folder)`` triples (only the finished ones when ``run_missing`` is off)."""
    runs = []
    bar = tqdm(todo, desc=f"{table} runs", unit="run", disable=None)  # a bar on a terminal only
    for devices, network, overrides, variant, seed in bar:
        run = run_dir(out, table, run_name(devices, network, overrides), variant, seed)
        if (run / "export" / "summary.json").exists():
            runs.append((variant, seed, run))
            continue
        if not run_missing:
            continue
        runs.append((variant, seed, run))
        budget = min(episodes, MAX_EPISODES.get(variant, episodes))
        settings = [f"devices={devices}", f"network={network}", f"episodes={budget}", f"seed={seed}"]
        train_run(run, settings, [*overrides, *VARIANTS[variant], *extra], echo=bar.write)
    return runs


def train_run(
    run: Path,
    settings: list[str],
    overrides: list[str],
    echo: Callable[[str], Any] = print,
    depends: tuple[str, ...] | None = None,
) -> None:
    """One training run of the Hydra app into ``run`` (its command line shown by ``echo``); a
    failure stops the script with the run's stderr. Shared by the tables and the thesis script.
    The commit is recorded in the run folder first (``provenance.json``; ``depends``: the paths
    whose uncommitted changes mark it dirty, by default the running command's, as for the rows
    it writes), so the row collected
    from it later, maybe by another checkout, carries the commit that trained it."""
    cmd = [sys.executable, "-m", "splitgym.agents.train", *settings, f"hydra.run.dir={run}", *overrides]
    echo(" ".join(cmd[2:]))
    depends = depends or paths_of(module_of(command_line()))
    write_run_provenance(run, depends, shlex.join(["python", *cmd[1:]]))
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"run {run} failed:\n{res.stderr[-3000:]}")


def _start_ms(summary: dict[str, Any]) -> float:
    """Where the ours variant's training starts: the partition pilot's best sampled decision
    (deterministic), so the table shows what DDPG adds on top of it. Runs from before the summary
    recorded it are re-piloted."""
    if "pilot" in summary:
        return float(summary["pilot"]["latency_ms"])
    from splitgym.envs.scenarios import Scenario

    sc = summary["scenario"]
    scenario = Scenario(
        name="start",
        model=sc["model"],
        input=sc.get("input"),
        devices=sc["devices"],
        network=sc["network"],
        partition=sc["partition"],
    )
    return scenario.pilot().latency * 1e3


def _name(group: Any) -> str:
    """A scenario's group by its name: runs record the resolved mapping (older ones the name)."""
    return str(group.get("name", "custom")) if isinstance(group, dict) else str(group)


def _row(key: dict[str, Any], method: str, ms: float, **extra: Any) -> dict[str, Any]:
    blank = dict.fromkeys(("episodes", "best_episode", "actor_latency_ms", "start_latency_ms"), None)
    return {**key, "method": method, "latency_ms": ms, "ips": 1e3 / ms, **blank, "partition": "", **extra}


def collect(table: str, runs: list[tuple[str, int, Path]]) -> list[dict[str, Any]]:
    """One line per group, method and seed; the classical planners once per group and seed (every
    variant's summary prices them on the same cost model). Each row carries its run's commit
    (``provenance.json``; ``unknown`` for runs made before it) and this process's command."""
    rows: list[dict[str, Any]] = []
    done: set[tuple[str, int]] = set()
    command = command_line()
    for variant, seed, run in runs:
        s = json.loads((run / "export" / "summary.json").read_text())
        sc = s["scenario"]
        key = {
            "table": table,
            "run": run.parent.name,
            "seed": seed,
            "model": sc["model"],
            "devices": _name(sc["devices"]),
            "network": _name(sc["network"]),
            "alpha": sc["alpha"],
        }
        prov = {"commit": read_run_provenance(run)["commit"], "command": command}
        rows.append(
            _row(
                key,
                METHOD[variant],
                s["latency_ms"]["learned_plan"],
                ips=s["ips"]["learned_plan"],
                episodes=s["episodes"],
                best_episode=s.get("best_episode"),
                actor_latency_ms=s["latency_ms"]["actor_deterministic"],
                start_latency_ms=_start_ms(s) if variant == "ours" else None,
                partition="|".join(f"{a}-{b}" for a, b in s["partition"]),
                **prov,
            )
        )
        if (key["run"], seed) not in done:
            done.add((key["run"], seed))
            rows.extend(_row(key, method, ms, **prov) for method, ms in s["classical_latency_ms"].items())
    return rows


def merge(old: list[dict[str, Any]], new: list[dict[str, Any]], variants: tuple[str, ...]) -> list[dict[str, Any]]:
    """``new`` rows plus the ``old`` ones (the table's CSV) they do not replace: the DistrEdge rows
    of variants not run now, and every row of groups and seeds not collected now. So ``--variants
    ours`` re-runs one variant and keeps the other's rows (whose training runs may be gone). The
    old rows keep their commit: :func:`refuse_stale` decides whether they may stay."""
    runs = {(r["run"], r.get("seed")) for r in new}
    now = {METHOD[v] for v in variants}
    kept = [
        r
        for r in old
        if (r["run"], r.get("seed")) not in runs or (r["method"].startswith("distredge") and r["method"] not in now)
    ]
    order = {run: i for i, run in enumerate(dict.fromkeys([r["run"] for r in old] + [r["run"] for r in new]))}
    rank = {m: i for i, m in enumerate(METHOD.values())}
    merged = kept + new
    return sorted(
        merged, key=lambda r: (order[r["run"]], r.get("seed") or 0, rank.get(r["method"], len(rank)), r["method"])
    )


def stale_jobs(table: str, bad: list[dict[str, Any]]) -> list[Job]:
    """The runs that re-make ``bad`` rows: a DistrEdge row's own variant, a classical row's group
    in the paper variant (its summary prices every planner); seed 0 for rows from before seeds."""
    groups = {run_name(d, n, o): (d, n, o) for d, n, o in TABLES[table]}
    variant_of = {m: v for v, m in METHOD.items()}
    todo = {
        (*groups[r["run"]], variant_of.get(r["method"], "paper"), int(r.get("seed") or 0))
        for r in bad
        if r["run"] in groups
    }
    return sorted(todo, key=lambda j: (j[4], j[0], j[1], j[3]))


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per group, seed and DistrEdge variant: its IPS over the best classical planner and over
    AOFL (the DistrEdge row's commit and command)."""
    out = []
    for run, seed in dict.fromkeys((r["run"], r.get("seed")) for r in rows):
        mine = {r["method"]: r for r in rows if (r["run"], r.get("seed")) == (run, seed)}
        base = {k: r["ips"] for k, r in mine.items() if not k.startswith("distredge")}
        best = max(base, key=base.get)
        for variant, method in METHOD.items():
            if method in mine:
                ips = mine[method]["ips"]
                out.append(
                    {
                        "run": run,
                        "seed": seed,
                        "variant": variant,
                        "distredge_ips": ips,
                        "best_baseline": best,
                        "over_best_baseline": ips / base[best],
                        "over_aofl": ips / base["aofl"],
                        "commit": mine[method]["commit"],
                        "command": mine[method]["command"],
                    }
                )
    return out


def summary(ratio_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per group and variant: median, min and max over the seeds of the ratios, the best
    baselines seen, and every seed's commit (``|``-joined when they differ)."""
    out = seed_spread(ratio_rows, ("run", "variant"), ("distredge_ips", "over_best_baseline", "over_aofl"))
    for row in out:
        mine = [r for r in ratio_rows if (r["run"], r["variant"]) == (row["run"], row["variant"])]
        row["best_baseline"] = ",".join(sorted({r["best_baseline"] for r in mine}))
    return out  # write_csv puts commit and command last


def write(table: str, rows: list[dict[str, Any]], out: Path) -> None:
    ratio_rows = ratios(rows)
    for name, data in ((table, rows), (f"{table}_ratios", ratio_rows), (f"{table}_summary", summary(ratio_rows))):
        write_csv(out / f"{name}.csv", data)
    plot(table, rows, out / f"{table}.png")


def plot(table: str, rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    runs = list(dict.fromkeys(r["run"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        by.setdefault((r["run"], r["method"]), []).append(r["ips"])
    ips = {k: statistics.median(v) for k, v in by.items()}  # the median over seeds
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(runs)), 4))
    x = np.arange(len(runs))
    for i, m in enumerate(methods):
        ax.bar(x + i * width, [ips.get((r, m), 0) for r in runs], width, label=m)
    ax.set_xticks(x + 0.4 - width / 2, runs, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("images per second (simulated)")
    ax.set_title(f"DistrEdge {table}: {rows[0]['model']}")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("table", choices=sorted(TABLES))
    ap.add_argument("--episodes", type=int, default=4000)
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds; one run each")
    ap.add_argument("--model", default=None, help="override the model (e.g. vgg11 for a quick check)")
    ap.add_argument("--input", type=int, default=None, help="override the input size")
    ap.add_argument(
        "--out",
        default=RESULTS_DIR,
        help="results folder, and runs/ in it (default: %(default)s, under the working directory)",
    )
    ap.add_argument("--only", default=None, help="comma-separated row names (e.g. DA_bw50,DB_bw300)")
    ap.add_argument("--collect", action="store_true", help="only collect the finished runs, launch nothing")
    ap.add_argument(
        "--rerun-stale",
        action="store_true",
        help="re-run the runs behind stale or unknown rows (old run folders are moved aside), instead of refusing",
    )
    ap.add_argument(
        "--keep-stale",
        action="store_true",
        help="write stale or unknown rows anyway: they keep their commit, and results_check lists them",
    )
    ap.add_argument(
        "--variants",
        default="paper,ours",
        help=f"DistrEdge variants, comma-separated from {sorted(VARIANTS)} (the a table: paper only)",
    )
    args = ap.parse_args(argv)
    args.variants = tuple(v for v in args.variants.split(",") if v)
    bad = [v for v in args.variants if v not in VARIANTS]
    if bad:
        ap.error(f"--variants: unknown {bad[0]!r} (known: {', '.join(VARIANTS)})")
    try:
        args.seeds = tuple(int(s) for s in args.seeds.split(","))
    except ValueError:
        ap.error(f"--seeds: {args.seeds!r} is not a comma-separated list of integers")
    if args.table == "alpha":
        args.variants = ("paper",)
    return args


def _rerun(args: argparse.Namespace, out: Path, bad: list[dict[str, Any]], extra: list[str]) -> list[Job]:
    """Move the folders behind ``bad`` rows aside and train them again; returns those jobs."""
    redo = stale_jobs(args.table, bad)
    for devices, network, overrides, variant, seed in redo:
        run = run_dir(out, args.table, run_name(devices, network, overrides), variant, seed)
        if run.exists():
            old = read_run_provenance(run)["commit"][:10]
            run.rename(run.with_name(f"{run.name}.stale-{old}-{time.strftime('%Y%m%d%H%M%S')}"))
    launch(args.table, out, args.episodes, redo, extra)
    return redo


def main(argv: list[str] | None = None) -> None:
    args = _args(argv)
    extra = ([f"model={args.model}"] if args.model else []) + ([f"model.input={args.input}"] if args.input else [])
    out = Path(args.out)
    only = set(args.only.split(",")) if args.only else None
    todo = jobs(args.table, args.variants, args.seeds, only)
    if not todo:
        raise SystemExit(f"--only: no row of {args.table} is named {args.only!r}")
    csv_path = out / f"{args.table}.csv"
    runs = launch(args.table, out, args.episodes, todo, extra, run_missing=not args.collect)
    rows = merge(read_csv(csv_path), collect(args.table, runs), args.variants)
    bad = stale_rows(rows)
    if bad and args.rerun_stale and not args.collect:
        redo = _rerun(args, out, [r for r, _, _ in bad], extra)
        variants = tuple(dict.fromkeys(args.variants + tuple(j[3] for j in redo)))
        seeds = tuple(sorted(set(args.seeds) | {j[4] for j in redo}))
        redone = launch(args.table, out, args.episodes, jobs(args.table, variants, seeds), extra, False)
        rows = merge(read_csv(csv_path), collect(args.table, redone), variants)
        bad = stale_rows(rows)
    if bad and not args.keep_stale:
        hint = "re-run them with --rerun-stale, or keep them as they are with --keep-stale"
        raise SystemExit(refusal(csv_path, bad, ("run", "seed", "method"), hint))
    write(args.table, rows, out)
    for r in ratios(rows):
        print(
            f"{r['run']:<28} seed {r['seed']} {r['variant']:<6} DistrEdge {r['distredge_ips']:7.2f} IPS  "
            f"x{r['over_best_baseline']:.2f} over "
            f"{r['best_baseline']}, x{r['over_aofl']:.2f} over AOFL"
        )


if __name__ == "__main__":
    main()
