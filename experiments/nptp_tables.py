"""Reproduce NPTP's experiments (Section IV) on the tile cost model: NPTP (MPA) against CoEdge.

    python -m splitgym.experiments.nptp_tables bandwidth   # VGG11/13/16/19, 0.1-1 MB/s (Fig. 4)
    python -m splitgym.experiments.nptp_tables sizes       # VGG13/16, 224-4096 (Fig. 6)
    python -m splitgym.experiments.nptp_tables layers      # halo bytes per operator (Fig. 5)
    python -m splitgym.experiments.nptp_tables gap         # MPA vs the exhaustive search (grid 8, 16)
    python -m splitgym.experiments.nptp_tables all
    python -m splitgym.experiments.nptp_tables all --objective eq9   # the paper's Eq. 9 alone
    python -m splitgym.experiments.nptp_tables ppo         # PPO/DDPG on NPTP-v0 vs MPA and the grid optimum
    python -m splitgym.experiments.nptp_tables search-time # MPA's search time at 4096 (run it on a quiet machine)

Every row plans the same cluster three times, ``nptp-mpa`` (default budget: 4 rounds x 250
iterations), ``coedge-strips`` (the best penetrative strips on a 32-step grid, every device order)
and ``coedge-lp`` (CoEdge's own rule: strips sized by a linear programme over linear compute and
network models), all scored by :mod:`splitgym.costmodels.tiles.tile_cost`, and reports the latency
of each, the speed-up of NPTP over both CoEdges, the halo bytes (the communication reduction,
Fig. 5) and MPA's search time.

``--objective`` (what every planner optimises and every row reports): ``end-to-end`` (the default)
adds the input scatter (each device receives its tile from the requester) and a per-message
latency of ``--message-ms`` (default 2 ms, our choice: a Wi-Fi hop; the paper gives none) to
every message; ``eq9`` is the paper's Eq. 9 alone (no scatter, no per-message latency; files end
in ``_eq9``). Outputs: ``nptp_<table>[_eq9].csv`` and ``.png`` in ``--out`` (default
``experiments/results`` under the working directory).

Settings the paper does not give (PAPERS-AUDIT B.2 item 25), our choices: the three devices are
``conf/devices/nptp3.yaml`` (Xavier, TX2, Nano, derived profiles; activation-share caps 0.5 / 0.4
/ 0.3 and memory caps 8 / 4 / 2 GiB); the bandwidth sweep runs at 224x224; the image-size sweep at
0.5 MB/s (4 Mbps). MB/s is 10^6 bytes per second (8 Mbps per MB/s).
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from splitgym.agents.planners import run_planner
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.provenance import command_line, read_run_provenance, write_run_provenance
from splitgym.costmodels.tiles.tile_cost import TileCostModel, cluster_caps, plan_rects
from splitgym.experiments.dependencies import module_of, paths_of
from splitgym.experiments.results_csv import RESULTS_DIR, seed_spread, write_csv

DEVICES = "nptp3"
BANDWIDTHS_MBS = (0.1, 0.25, 0.5, 0.75, 1.0)
SIZES = (224, 512, 1024, 2048, 4096)
SIZE_BW_MBS = 0.5
MODELS_BW = ("vgg11", "vgg13", "vgg16", "vgg19")
MODELS_SIZE = ("vgg13", "vgg16")


_GRAPHS: dict[tuple[str, int], ModelGraph] = {}


def _graph(model: str, size: int) -> ModelGraph:
    """One traced graph at a time (a VGG holds 0.5 GB of weights; traced graphs are freed only by
    the cycle collector, so a sweep that traces one per row runs out of memory)."""
    if (model, size) not in _GRAPHS:
        _GRAPHS.clear()
        gc.collect()
        _GRAPHS[(model, size)] = ModelGraph.from_torchvision(model, size)
    return _GRAPHS[(model, size)]


@dataclass(frozen=True)
class Objective:
    """What the planners optimise and the rows report: the scatter term and per-message latency."""

    scatter: bool = True
    message_ms: float = 2.0

    @property
    def suffix(self) -> str:
        return "" if self.scatter else "_eq9"

    def cluster(self, mbs: float) -> Cluster:
        net = {"name": f"{mbs:g}MBps", "bandwidth_mbps": mbs * 8.0, "latency_ms": self.message_ms}
        return Cluster.from_config(DEVICES, net)


END_TO_END = Objective()
EQ9 = Objective(scatter=False, message_ms=0.0)


def _setup(
    model: str, size: int, mbs: float, obj: Objective
) -> tuple[ModelGraph, Cluster, TileCostModel, dict[str, Any]]:
    g = _graph(model, size)
    cl = obj.cluster(mbs)
    caps = cluster_caps(cl)
    cost = TileCostModel(g, cl, memory_mb=caps.mb, activation_share=caps.share, scatter=obj.scatter)
    profiles = {d.board: p for d, p in zip(cl.devices, cost.profiles)}
    return g, cl, cost, {"profiles": profiles, "scatter": obj.scatter}


def compare(
    model: str, size: int, mbs: float, iterations: int = 250, grid: int = 32, obj: Objective = END_TO_END
) -> dict[str, Any]:
    """One row: NPTP (MPA) and CoEdge (best strips; its own LP rule) on one model, size and bandwidth."""
    g, cl, cost, opts = _setup(model, size, mbs, obj)
    nptp = run_planner("nptp-mpa", g, cl, iterations=iterations, **opts)
    coedge = run_planner("coedge-strips", g, cl, grid=grid, **opts)
    lp = run_planner("coedge-lp", g, cl, **opts)
    a, b, c = cost.score(plan_rects(nptp)), cost.score(plan_rects(coedge)), cost.score(plan_rects(lp))
    return {
        "model": model,
        "size": size,
        "bandwidth_MBps": mbs,
        "scatter": obj.scatter,
        "message_ms": obj.message_ms,
        "nptp_ms": a.latency * 1e3,
        "coedge_ms": b.latency * 1e3,
        "coedge_lp_ms": c.latency * 1e3,
        "speedup": b.latency / a.latency,
        "speedup_lp": c.latency / a.latency,
        "nptp_scatter_ms": 0.0 if a.scatter_seconds is None else float(a.scatter_seconds.max()) * 1e3,
        "nptp_MB": a.total_bytes / 1e6,
        "coedge_MB": b.total_bytes / 1e6,
        "comm_reduction": b.total_bytes / a.total_bytes if a.total_bytes else float("inf"),
        "nptp_feasible": a.feasible,
        "coedge_feasible": b.feasible,
        "coedge_lp_feasible": c.feasible,
        "nptp_tiles": ";".join(f"{t.device}:{t.rows[0]}-{t.rows[1]}x{t.cols[0]}-{t.cols[1]}" for t in nptp.tiles or []),
        "coedge_tiles": ";".join(f"{t.device}:{t.rows[0]}-{t.rows[1]}" for t in coedge.tiles or []),
        "coedge_lp_tiles": ";".join(f"{t.device}:{t.rows[0]}-{t.rows[1]}" for t in lp.tiles or []),
        "mpa_search_s": nptp.meta["search_s"],
        "mpa_evaluations": nptp.meta["evaluations"],
        "coedge_search_s": coedge.meta["search_s"],
    }


def _plot(path: Path, rows: list[dict[str, Any]], x: str, series: str, xlabel: str, log: bool = False) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for name in dict.fromkeys(r[series] for r in rows):
        rs = [r for r in rows if r[series] == name]
        line = axes[0].plot([r[x] for r in rs], [r["speedup"] for r in rs], "o-", label=f"{name} vs best strips")
        axes[0].plot(
            [r[x] for r in rs],
            [r["speedup_lp"] for r in rs],
            "x--",
            color=line[0].get_color(),
            label=f"{name} vs CoEdge LP",
        )
        axes[1].plot([r[x] for r in rs], [r["comm_reduction"] for r in rs], "o-", label=name)
    axes[0].set_ylabel("speed-up of NPTP (MPA) over CoEdge")
    axes[1].set_ylabel("CoEdge halo bytes / NPTP halo bytes")
    for ax in axes:
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        if log:
            ax.set_xscale("log", base=2)
        ax.legend(fontsize=6)
    what = "Eq. 9 alone" if not rows[0]["scatter"] else f"with scatter, {rows[0]['message_ms']:g} ms per message"
    fig.suptitle(f"NPTP vs CoEdge on {DEVICES} (tile cost model, {what})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table_bandwidth(iterations: int, *, out: Path, obj: Objective = END_TO_END) -> list[dict[str, Any]]:
    rows = []
    for m in MODELS_BW:
        for b in BANDWIDTHS_MBS:
            rows.append(compare(m, 224, b, iterations, obj=obj))
            print(_line(rows[-1]), flush=True)
            write_csv(out / f"nptp_bandwidth{obj.suffix}.csv", rows)  # after every row: a long run keeps its rows
    _plot(out / f"nptp_bandwidth{obj.suffix}.png", rows, "bandwidth_MBps", "model", "bandwidth (MB/s), 224x224")
    return rows


def table_sizes(iterations: int, *, out: Path, obj: Objective = END_TO_END) -> list[dict[str, Any]]:
    rows = []
    for m in MODELS_SIZE:
        for s in SIZES:
            rows.append(compare(m, s, SIZE_BW_MBS, iterations, obj=obj))
            print(_line(rows[-1]), flush=True)
            write_csv(out / f"nptp_sizes{obj.suffix}.csv", rows)
    _plot(out / f"nptp_sizes{obj.suffix}.png", rows, "size", "model", f"image size, {SIZE_BW_MBS} MB/s", log=True)
    return rows


def table_layers(
    model: str = "vgg16",
    size: int = 224,
    mbs: float = 0.5,
    iterations: int = 250,
    *,
    out: Path,
    obj: Objective = END_TO_END,
) -> list[dict[str, Any]]:
    """Fig. 5: halo bytes at every unit for NPTP's and CoEdge's plans."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g, cl, cost, opts = _setup(model, size, mbs, obj)
    a = cost.score(plan_rects(run_planner("nptp-mpa", g, cl, iterations=iterations, **opts)))
    b = cost.score(plan_rects(run_planner("coedge-strips", g, cl, **opts)))
    rows = [
        {
            "unit": u.index,
            "name": u.name,
            "kind": u.kind,
            "nptp_KB": float(x) / 1e3,
            "coedge_KB": float(y) / 1e3,
            "ratio": (float(y) / float(x)) if x else float("nan"),
        }
        for u, x, y in zip(g.units, a.layer_bytes, b.layer_bytes)
    ]
    write_csv(out / f"nptp_layers{obj.suffix}.csv", rows)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    idx = range(len(rows))
    ax.bar([i - 0.2 for i in idx], [r["coedge_KB"] for r in rows], 0.4, label="CoEdge (strips)")
    ax.bar([i + 0.2 for i in idx], [r["nptp_KB"] for r in rows], 0.4, label="NPTP (MPA)")
    ax.set_xticks(list(idx), [r["name"] for r in rows], rotation=60, fontsize=7)
    ax.set_ylabel("halo received (KB)")
    ax.set_title(f"{model} {size}x{size}, {mbs} MB/s: halo per operator")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / f"nptp_layers{obj.suffix}.png", dpi=120)
    plt.close(fig)
    print(
        f"layers: total NPTP {a.total_bytes / 1e6:.3f} MB, CoEdge {b.total_bytes / 1e6:.3f} MB, "
        f"reduction x{b.total_bytes / a.total_bytes:.2f}"
    )
    return rows


def table_gap(iterations: int, *, out: Path, obj: Objective = END_TO_END) -> list[dict[str, Any]]:
    """MPA against the exhaustive search over every partition of a coarse grid."""
    rows = []
    for model, size in (("vgg11", 224), ("vgg16", 224)):
        g, cl, _, opts = _setup(model, size, 0.5, obj)
        mpa = run_planner("nptp-mpa", g, cl, iterations=iterations, **opts)
        for grid in (8, 16):
            t0 = time.perf_counter()
            ex = run_planner("nptp-exact", g, cl, grid=grid, **opts)
            rows.append(
                {
                    "model": model,
                    "size": size,
                    "bandwidth_MBps": 0.5,
                    "grid": grid,
                    "scatter": obj.scatter,
                    "exact_ms": ex.meta["latency_s"] * 1e3,
                    "exact_candidates": ex.meta["candidates"],
                    "exact_s": time.perf_counter() - t0,
                    "mpa_ms": mpa.meta["latency_s"] * 1e3,
                    "mpa_s": mpa.meta["search_s"],
                    "mpa_over_exact": mpa.meta["latency_s"] / ex.meta["latency_s"],
                }
            )
            print(rows[-1], flush=True)
    write_csv(out / f"nptp_gap{obj.suffix}.csv", rows)
    return rows


PPO_BANDWIDTHS_MBS = (0.1, 0.5, 1.0)


def _train(algo: str, model: str, size: int, mbs: float, episodes: int, seed: int, run: Path) -> dict[str, Any]:
    """One run of the Hydra app (``splitgym train env=nptp``) into ``run``; a finished run (its
    ``export/summary.json``) is reused."""
    summary = run / "export" / "summary.json"
    if not summary.exists():
        cmd = [
            sys.executable,
            "-m",
            "splitgym.agents.train",
            "env=nptp",
            f"agent={algo}",
            f"model={model}",
            f"model.input={size}",
            f"env.bandwidth_mbps={mbs * 8.0:g}",
            f"episodes={episodes}",
            f"seed={seed}",
            "log_interval=1",
            "checkpoint_every=100000",
            f"hydra.run.dir={run}",
        ]
        print(" ".join(cmd[1:]), flush=True)
        # the commit it trains on, in the run folder: its row carries it, whoever collects it
        write_run_provenance(run, paths_of(module_of(command_line())), shlex.join(["python", *cmd[1:]]))
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.loads(summary.read_text())


def _curve(run: Path) -> list[tuple[int, float]]:
    """(episodes so far, best latency so far in ms) at every logged rollout of a run."""
    with open(run / "tb" / "progress.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("charts/best_ips")]
    return [(int(float(r["charts/episodes"])), 1e3 / float(r["charts/best_ips"])) for r in rows]


def table_ppo(
    iterations: int,
    episodes: int = 5000,
    ddpg_episodes: int = 1500,
    model: str = "vgg16",
    size: int = 1024,
    grid: int = 16,
    seeds: tuple[int, ...] = (0,),
    runs: Path = Path("runs"),
    *,
    out: Path,
    bandwidths: tuple[float, ...] = PPO_BANDWIDTHS_MBS,
) -> list[dict[str, Any]]:
    """PPO and DDPG trained on ``splitgym/NPTP-v0`` (``nptp3`` with its caps, ``bandwidths`` MB/s, VGG-16 at
    ``size``), against MPA and the exhaustive optimum on a ``grid`` x ``grid`` grid (nptp-exact),
    all scored by the env's cost model (over a cap: the env's penalty). ``episodes_to_1pct``: the
    episodes after which the run's best was within 1% of its final best (convergence)."""
    from splitgym.envs.nptp import NPTPEnv

    rows, curves = [], {}
    for mbs in tqdm(bandwidths, desc="nptp ppo bandwidths", unit="bw", disable=None):  # on a terminal only
        env = NPTPEnv(model=model, input=size, devices=DEVICES, bandwidth_mbps=mbs * 8.0)
        refs: dict[str, Any] = {}
        for name, opts in (
            ("nptp-mpa", {"iterations": iterations}),
            ("nptp-exact", {"grid": grid}),
            ("coedge-strips", {"grid": 32}),
        ):
            t0 = time.perf_counter()
            plan = run_planner(name, env.graph, env.cluster, **opts)
            refs[name] = (env.penalised(env.model.score(plan_rects(plan))) * 1e3, time.perf_counter() - t0)
        for algo, eps in (("ppo", episodes), ("ddpg", ddpg_episodes)):
            for seed in seeds if eps > 0 else ():
                run = runs / f"nptp-{algo}-{model}-{size}-{mbs:g}MBps-s{seed}"
                summ = _train(algo, model, size, mbs, eps, seed, run)
                curves[(algo, mbs, seed)] = _curve(run)
                key = {"model": model, "size": size, "bandwidth_MBps": mbs, "algo": algo, "seed": seed}
                rows.append(_ppo_row(key, summ, curves[(algo, mbs, seed)], refs, run, grid))
                print({k: v for k, v in rows[-1].items() if k not in ("tiles", "run", "command")}, flush=True)
        del env  # one VGG-16 cost model at a time (each holds GBs at 1024)
        gc.collect()
    write_csv(out / "nptp_ppo.csv", rows)
    by = ("model", "size", "bandwidth_MBps", "algo")
    write_csv(out / "nptp_ppo_summary.csv", seed_spread(rows, by, ("learned_over_mpa", "learned_over_exact")))
    _plot_ppo(out / "nptp_ppo.png", rows, curves)
    return rows


def _ppo_row(
    key: dict[str, Any],
    summ: dict[str, Any],
    curve: list[tuple[int, float]],
    refs: dict[str, Any],
    run: Path,
    grid: int,
) -> dict[str, Any]:
    """One trained run against MPA, the grid optimum and CoEdge's strips; its run's commit."""
    final = summ["latency_ms"]
    conv = next((e for e, b in curve if b <= 1.01 * final), curve[-1][0] if curve else 0)
    return {
        **key,
        "episodes": summ["episodes"],
        "train_s": summ["wall_s"],
        "learned_ms": final,
        "feasible": summ["feasible"],
        "episodes_to_1pct": conv,
        "mpa_ms": refs["nptp-mpa"][0],
        "mpa_s": refs["nptp-mpa"][1],
        "exact_ms": refs["nptp-exact"][0],
        "exact_s": refs["nptp-exact"][1],
        "exact_grid": grid,
        "coedge_ms": refs["coedge-strips"][0],
        "learned_over_mpa": final / refs["nptp-mpa"][0],
        "learned_over_exact": final / refs["nptp-exact"][0],
        "mpa_over_exact": refs["nptp-mpa"][0] / refs["nptp-exact"][0],
        "tiles": ";".join(
            f"{t['device']}:{t['rows'][0]}-{t['rows'][1]}x{t['cols'][0]}-{t['cols'][1]}" for t in summ["tiles"]
        ),
        "run": str(run),
        "commit": read_run_provenance(run)["commit"],
        "command": command_line(),
    }


def _plot_ppo(
    path: Path, rows: list[dict[str, Any]], curves: dict[tuple[str, float, int], list[tuple[int, float]]]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bws = sorted({r["bandwidth_MBps"] for r in rows})
    fig, axes = plt.subplots(1, len(bws), figsize=(4.2 * len(bws), 3.6), squeeze=False)
    for ax, mbs in zip(axes[0], bws):
        sel = [r for r in rows if r["bandwidth_MBps"] == mbs]
        for r in sel:
            c = curves.get((r["algo"], mbs, r["seed"]), [])
            label = f"{r['algo']} seed {r['seed']} (best so far)"
            ax.plot([e for e, _ in c], [b / r["exact_ms"] for _, b in c], label=label)
        ax.axhline(sel[0]["mpa_ms"] / sel[0]["exact_ms"], color="k", ls="--", lw=0.9, label="MPA")
        ax.axhline(
            1.0, color="0.5", ls=":", lw=0.9, label=f"grid optimum ({sel[0]['exact_grid']}x{sel[0]['exact_grid']})"
        )
        ax.set(
            title=f"{sel[0]['model']} {sel[0]['size']}, {mbs:g} MB/s",
            xlabel="episodes",
            ylabel="latency / grid optimum",
            xscale="log",
            ylim=(0.9, 1.6),
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table_search_time(iterations: int, size: int = 4096, repeats: int = 3, *, out: Path) -> list[dict[str, Any]]:
    """MPA's search time (the median of ``repeats`` searches) at ``size`` on VGG-13/16, 0.5 MB/s."""
    rows = []
    for model in MODELS_SIZE:
        g = _graph(model, size)
        cl = Cluster.from_config(DEVICES, SIZE_BW_MBS * 8.0)
        plans = [run_planner("nptp-mpa", g, cl, iterations=iterations) for _ in range(repeats)]
        times = sorted(p.meta["search_s"] for p in plans)
        rows.append(
            {
                "model": model,
                "size": size,
                "bandwidth_MBps": SIZE_BW_MBS,
                "iterations": 4 * iterations,
                "evaluations": plans[0].meta["evaluations"],
                "search_s_median": times[len(times) // 2],
                "search_s_min": times[0],
                "search_s_max": times[-1],
                "latency_ms": plans[0].meta["latency_s"] * 1e3,
            }
        )
        print(rows[-1], flush=True)
    write_csv(out / "nptp_search_time.csv", rows)
    return rows


def _line(r: dict[str, Any]) -> str:
    return (
        f"{r['model']:>6} {r['size']:>5} {r['bandwidth_MBps']:>5} MB/s  NPTP {r['nptp_ms']:9.1f} ms  "
        f"CoEdge {r['coedge_ms']:9.1f} ms  x{r['speedup']:.2f} (LP x{r['speedup_lp']:.2f})  "
        f"bytes x{r['comm_reduction']:.2f}  "
        f"MPA {r['mpa_search_s']:.1f} s  feasible {r['nptp_feasible']}/{r['coedge_feasible']}"
    )


def _seeds(p: argparse.ArgumentParser, text: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        p.error(f"--seeds: {text!r} is not a comma-separated list of integers")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("table", choices=["bandwidth", "sizes", "layers", "gap", "ppo", "search-time", "all"])
    p.add_argument("--iterations", type=int, default=250, help="MPA iterations per round (4 rounds)")
    p.add_argument(
        "--objective",
        choices=["end-to-end", "eq9"],
        default="end-to-end",
        help="end-to-end: input scatter + --message-ms per message (default); eq9: the paper's Eq. 9 alone",
    )
    p.add_argument("--message-ms", type=float, default=2.0, help="end-to-end: per-message latency (ms)")
    p.add_argument("--episodes", type=int, default=5000, help="ppo: PPO training episodes per run")
    p.add_argument("--ddpg-episodes", type=int, default=1500, help="ppo: DDPG training episodes per run (0: none)")
    p.add_argument("--size", type=int, default=1024, help="ppo: image size")
    p.add_argument("--grid", type=int, default=16, help="ppo: grid of the exhaustive search")
    p.add_argument("--runs", default="runs", help="ppo: folder of the training runs (finished ones are reused)")
    p.add_argument(
        "--seeds", default="0,1,2", help="ppo: training seeds, comma-separated (nptp_ppo_summary.csv: spread)"
    )
    p.add_argument(
        "--out", default=RESULTS_DIR, help="results folder (default: %(default)s, under the working directory)"
    )
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.message_ms < 0:
        p.error(f"--message-ms: must be >= 0, got {args.message_ms:g}")
    obj = EQ9 if args.objective == "eq9" else Objective(True, args.message_ms)
    todo = ["bandwidth", "sizes", "layers", "gap"] if args.table == "all" else [args.table]
    for t in todo:
        if t == "layers":
            table_layers(iterations=args.iterations, out=out, obj=obj)
        elif t == "ppo":
            table_ppo(
                args.iterations,
                args.episodes,
                args.ddpg_episodes,
                size=args.size,
                grid=args.grid,
                seeds=_seeds(p, args.seeds),
                runs=Path(args.runs),
                out=out,
            )
        elif t == "search-time":
            table_search_time(args.iterations, out=out)
        else:
            {"bandwidth": table_bandwidth, "sizes": table_sizes, "gap": table_gap}[t](args.iterations, out=out, obj=obj)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
