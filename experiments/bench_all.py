"""Every benchmark in one run, one table: ``make bench`` (issue 21, item 8).

    python -m splitgym.experiments.bench_all [--mode quick|smallest] [--out experiments/results]
        [--only envs,ddpg,...]

Runs each ``bench_*`` script's measurement in a quick mode, in this one process (the CLI's start-up
in subprocesses of this interpreter), and writes one row per measurement to ``bench.csv`` and a
Markdown table to ``bench.md`` under ``--out``: benchmark, case, metric, value, unit, the anchor it
is compared with and the ratio value / anchor, the repeats behind the median and the 1-minute load
average before and after the section (``os.getloadavg``; the CPU may be shared). Anchors are
reference points measured in the same run, so a ratio holds across machines where a rate does not:

- ``envs``: raw ``env.step`` loops (random actions drawn in advance, reset at an episode's end) of
  Gymnasium's CartPole-v1 and Pendulum-v1 next to every splitgym env (``splitgym.envs.ENV_IDS``);
- ``ddpg``: SB3's DDPG with our DDPG config's network sizes and batch (``conf/agent/ddpg.yaml``),
  steps/s of ``learn`` over a short budget, on Pendulum-v1 vs DistrEdge-v0 (one torch thread);
- ``partitions``: AOFL's partition search, brute force vs the DP (``bench_partitions``);
- ``exact``: the exact search, enumeration vs branch and bound, same plan (``bench_exact``);
- ``pilot``: the pilot search (``partition=pilot-search``) with its clock bound vs pricing every
  neighbour in full, same choice (``bench_pilot_bound``; ResNet-152 DB and LB, VGG-16 DB);
- ``simulator``, ``env``: the simulator's single-plan fast path vs its batched numpy path
  (``bench_simulator``, ``bench_env``);
- ``vecenv``: the batched DistrEdge-v0 vector envs at B = 1..1,024 vs ``SyncVectorEnv`` of 8
  single envs (``bench_vecenv``);
- ``sparse``: batched scoring per plan at 16-64 devices, transfers priced densely vs sparsely
  (``bench_sparse``);
- ``nptp-env``: NPTP-v0/v1 steps/s with the tile cost model's loop vs its numpy path, and the
  batched NPTP env (``bench_nptp_env``);
- ``planners``, ``executor``, ``queueing``, ``cli``: planning times, the in-process executor vs
  the unsplit model, the MS-MDI queueing simulator per policy, the CLI's wall time vs a bare
  interpreter's start-up (``bench_cli`` with this interpreter alone);
- ``hosts``: the two-host executor and gloo's ping-pong over two shaped network namespaces
  (``bench_hosts``), only where root and iproute2 allow; otherwise a row says it was skipped.

``--mode smallest`` (the test's) shrinks every budget and skips the sections that start processes.
A section that fails leaves one row saying so and the others still run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitgym.costmodels.atomic import atomic_write
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["COLUMNS", "MODES", "SECTIONS", "Mode", "main", "run"]

COLUMNS = [
    "benchmark",
    "case",
    "metric",
    "value",
    "unit",
    "anchor",
    "ratio",
    "repeats",
    "load_before",
    "load_after",
    "note",
]


@dataclass(frozen=True)
class Mode:
    name: str
    repeats: int  # medians over this many repeats, where a benchmark repeats
    env_s: float  # seconds of env.step per env and repeat
    ddpg_steps: int  # learn() budget per env
    sim_batch: int
    sim_calls: int
    env_episodes: int
    partition_models: tuple[str, ...]
    chains: tuple[int, ...]
    executor: tuple[str, ...]  # bench_executor's command line
    queue_scenario: str
    processes: bool  # run the sections that start other processes (cli, hosts)


MODES = {
    "smallest": Mode(
        name="smallest",
        repeats=1,
        env_s=0.05,
        ddpg_steps=150,
        sim_batch=100,
        sim_calls=10,
        env_episodes=20,
        partition_models=("vgg16",),
        chains=(),
        executor=("--model", "vgg11", "--size", "64", "--min-run-time", "0.1"),
        queue_scenario="",
        processes=False,
    ),
    "quick": Mode(
        name="quick",
        repeats=3,
        env_s=0.4,
        ddpg_steps=1000,
        sim_batch=1000,
        sim_calls=100,
        env_episodes=200,
        partition_models=("vgg16", "vgg19", "resnet50"),
        chains=(100,),
        executor=("--model", "vgg16", "--size", "224", "--min-run-time", "1.0"),
        queue_scenario="ms-mdi-5",
        processes=True,
    ),
}


def _row(benchmark: str, case: str, metric: str, value: float | None, unit: str, **kw: Any) -> dict[str, Any]:
    """A row; ``anchor=(name, value)`` adds the anchor's name and value / anchor's value."""
    anchor, ratio = kw.pop("anchor", None) or ("", None), None
    if anchor[0] and value is not None and anchor[1]:
        ratio = value / anchor[1]
    return {
        "benchmark": benchmark,
        "case": case,
        "metric": metric,
        "value": value,
        "unit": unit,
        "anchor": anchor[0],
        "ratio": ratio,
        "repeats": kw.pop("repeats", 1),
        "note": kw.pop("note", ""),
    }


@contextlib.contextmanager
def _quiet() -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _step_rate(env: Any, actions: list[Any], seconds: float) -> float:
    """Steps per second of a raw ``env.step`` loop for about ``seconds``."""
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        n += len(actions)
    return n / (time.perf_counter() - t0)


def bench_envs(mode: Mode) -> list[dict[str, Any]]:
    import gymnasium as gym

    import splitgym.envs

    anchors = ["CartPole-v1", "Pendulum-v1"]
    envs, actions = {}, {}
    for env_id in (*anchors, *splitgym.envs.ENV_IDS):
        env = envs[env_id] = gym.make(env_id, disable_env_checker=True)
        env.reset(seed=0)
        env.action_space.seed(0)
        actions[env_id] = [env.action_space.sample() for _ in range(64)]
        _step_rate(env, actions[env_id], 0.01)  # warm-up
    rates: dict[str, list[float]] = {k: [] for k in envs}
    for _ in range(mode.repeats):  # in turn, so a change of load hits every env alike
        for env_id, env in envs.items():
            rates[env_id].append(_step_rate(env, actions[env_id], mode.env_s))
    med = {k: statistics.median(v) for k, v in rates.items()}
    rows = [_row("envs", k, "env.step rate", med[k], "steps/s", repeats=mode.repeats) for k in anchors]
    for env_id in splitgym.envs.ENV_IDS:
        for a in anchors:
            rows.append(
                _row("envs", env_id, "env.step rate", med[env_id], "steps/s", anchor=(a, med[a]), repeats=mode.repeats)
            )
    return rows


def bench_ddpg(mode: Mode) -> list[dict[str, Any]]:
    import gymnasium as gym
    import torch
    from stable_baselines3 import DDPG

    import splitgym.envs  # noqa: F401  (registers the envs)
    from splitgym.costmodels.cluster import load_conf

    cfg = load_conf("agent", "ddpg")["kwargs"]
    keep = ("learning_rate", "batch_size", "gamma", "buffer_size", "learning_starts", "tau", "train_freq")
    kwargs = {k: cfg[k] for k in (*keep, "gradient_steps")}
    policy = cfg["policy_kwargs"]
    loop_adam = {**policy, "optimizer_kwargs": {}}  # torch's default (for-loop) Adam on CPU: the anchor
    cases = {  # case -> (env, policy kwargs)
        "Pendulum-v1": ("Pendulum-v1", policy),
        "splitgym/DistrEdge-v0": ("splitgym/DistrEdge-v0", policy),
        "splitgym/DistrEdge-v0, for-loop Adam": ("splitgym/DistrEdge-v0", loop_adam),
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rates: dict[str, list[float]] = {case: [] for case in cases}
    try:
        for _ in range(max(1, mode.repeats - 1)):
            for case, (env_id, pk) in cases.items():  # interleaved, so load changes hit every case alike
                model = DDPG("MlpPolicy", gym.make(env_id), seed=0, device="cpu", policy_kwargs=pk, **kwargs)
                t0 = time.perf_counter()
                model.learn(total_timesteps=mode.ddpg_steps)
                rates[case].append(mode.ddpg_steps / (time.perf_counter() - t0))
    finally:
        torch.set_num_threads(threads)
    med = {k: statistics.median(v) for k, v in rates.items()}
    arch = policy["net_arch"]
    note = (
        f"SB3 DDPG, pi {arch['pi']} qf {arch['qf']}, batch {cfg['batch_size']}, {mode.ddpg_steps} steps, 1 thread, "
        f"Adam {policy.get('optimizer_kwargs') or 'default'}"
    )
    n = len(rates["Pendulum-v1"])
    pend, loop = "Pendulum-v1", "splitgym/DistrEdge-v0, for-loop Adam"
    return [
        _row("ddpg", pend, "learn rate", med[pend], "steps/s", repeats=n, note=note),
        _row("ddpg", loop, "learn rate", med[loop], "steps/s", anchor=(pend, med[pend]), repeats=n, note=note),
        _row(
            "ddpg",
            "splitgym/DistrEdge-v0",
            "learn rate",
            med["splitgym/DistrEdge-v0"],
            "steps/s",
            anchor=(loop, med[loop]),
            repeats=n,
            note=note,
        ),
    ]


def bench_partitions(mode: Mode) -> list[dict[str, Any]]:
    from splitgym.experiments.bench_partitions import measure

    with _quiet():
        found = measure(mode.repeats, mode.partition_models, mode.chains)
    rows = []
    for r in found:
        note = f"{r['units']} units"
        if r["brute_s"] is not None:
            rows.append(
                _row("partitions", r["case"], "brute force", r["brute_s"] * 1e3, "ms", repeats=mode.repeats, note=note)
            )
            note += f", same partition as brute force: {r['equal']}"
        anchor = ("brute force", r["brute_s"] * 1e3) if r["brute_s"] is not None else None
        rows.append(
            _row("partitions", r["case"], "DP", r["dp_s"] * 1e3, "ms", anchor=anchor, repeats=mode.repeats, note=note)
        )
    return rows


def bench_exact(mode: Mode) -> list[dict[str, Any]]:
    from splitgym.costmodels.graph import ModelGraph
    from splitgym.experiments.bench_exact import side_by_side

    cases = (("0,7,14", 4),) if mode.name == "smallest" else (("0,7,14", 4), ("0,5,10", 8))
    with _quiet():
        found = side_by_side(ModelGraph.from_torchvision("vgg16"), 300.0, mode.repeats, 5_000_000, cases)
    rows = []
    for r in found:
        case, note = f"vgg16 DB {r['partition']} grid {r['grid']}", f"{r['candidates']:,} candidates"
        rows.append(_row("exact", case, "enumerate", r["enum_s"] * 1e3, "ms", note=note))
        note += f", same plan: {r['same_plan']}"
        anchor = ("enumerate", r["enum_s"] * 1e3)
        rows.append(
            _row(
                "exact",
                case,
                "branch and bound",
                r["bnb_s"] * 1e3,
                "ms",
                anchor=anchor,
                repeats=mode.repeats,
                note=note,
            )
        )
    return rows


def bench_pilot(mode: Mode) -> list[dict[str, Any]]:
    from splitgym.experiments.bench_pilot_bound import side_by_side

    quick = [("resnet152", "DB"), ("resnet152", "LB"), ("vgg16", "DB")]
    cases = [("vgg16", "DB")] if mode.name == "smallest" else quick
    rows = []
    for model, devices in cases:
        with _quiet():
            r = side_by_side(model, devices, mode.repeats)
        note = f"{r['volumes']} volumes, {r['latency_ms']:.2f} ms, {r['priced']} partitions"
        rows.append(_row("pilot", r["case"], "full pricing", r["full_s"] * 1e3, "ms", repeats=mode.repeats, note=note))
        note += f", same choice: {r['same_choice']}"
        anchor, n = ("full pricing", r["full_s"] * 1e3), mode.repeats
        rows.append(
            _row("pilot", r["case"], "clock bound", r["bound_s"] * 1e3, "ms", anchor=anchor, repeats=n, note=note)
        )
    return rows


def bench_simulator(mode: Mode) -> list[dict[str, Any]]:
    from splitgym.experiments.bench_simulator import measure

    r = measure(batch_size=mode.sim_batch, repeats=mode.repeats, calls=mode.sim_calls)
    case, n = f"{r['model']} {r['devices']} {r['partition']}", mode.repeats
    return [
        _row("simulator", case, "score, batched path", r["single_plan_batched_path_us"], "us", repeats=n),
        _row(
            "simulator",
            case,
            "score, fast path",
            r["single_plan_us"],
            "us",
            anchor=("score, batched path", r["single_plan_batched_path_us"]),
            repeats=n,
        ),
        _row("simulator", case, "simulate, batched path", r["simulate_batched_path_us"], "us", repeats=n),
        _row(
            "simulator",
            case,
            "simulate, fast path",
            r["simulate_us"],
            "us",
            anchor=("simulate, batched path", r["simulate_batched_path_us"]),
            repeats=n,
        ),
        _row(
            "simulator",
            case,
            f"score per plan, batch of {r['batch']}",
            r["batched_per_plan_us"],
            "us",
            anchor=("score, fast path", r["single_plan_us"]),
            repeats=n,
        ),
    ]


def bench_env(mode: Mode) -> list[dict[str, Any]]:
    from splitgym.experiments.bench_env import measure

    r = measure(episodes=mode.env_episodes, repeats=mode.repeats)
    case, n = f"DistrEdgeEnv {r['scenario']}", mode.repeats
    batched, fast = r["env_steps_per_s_batched_path"], r["env_steps_per_s"]
    sim_rate = 1e6 / r["simulator_step_us"]
    return [
        _row("env", case, "env.step, batched path", batched, "steps/s", repeats=n),
        _row(
            "env", case, "env.step, fast path", fast, "steps/s", anchor=("env.step, batched path", batched), repeats=n
        ),
        _row("env", case, "bare simulator step, fast path", sim_rate, "steps/s", repeats=n),
        _row("env", case, "env.step, fast path", fast, "steps/s", anchor=("bare simulator step", sim_rate), repeats=n),
    ]


def bench_vecenv(mode: Mode) -> list[dict[str, Any]]:
    from splitgym.experiments.bench_vecenv import ANCHOR, measure

    found = measure(batches=(1, 8, 64, 1024), ref_batches=(8,), seconds=mode.env_s, repeats=mode.repeats)
    sync = next(r["steps_per_s"] for r in found if (r["variant"], r["B"]) == (ANCHOR, 8))
    return [
        _row(
            "vecenv",
            f"{r['variant']}, B={r['B']}",
            "vector step rate",
            r["steps_per_s"],
            "instance steps/s",
            anchor=None if r["variant"] == ANCHOR else (f"{ANCHOR}, B=8", sync),
            repeats=mode.repeats,
            note=f"DistrEdge-v0 {r['scenario']}; references step their B envs in a loop (flat in B)",
        )
        for r in found
    ]


def bench_sparse(mode: Mode) -> list[dict[str, Any]]:
    from splitgym.experiments.bench_sparse import measure

    smallest = mode.name == "smallest"
    found = measure((16,) if smallest else (16, 32, 64), 32 if smallest else 256, mode.repeats)
    return [
        row
        for r in found
        for row in (
            _row(
                "sparse",
                f"vgg16 stages, {r['n_devices']} devices",
                "dense",
                r["dense_us_per_plan"],
                "us/plan",
                repeats=mode.repeats,
            ),
            _row(
                "sparse",
                f"vgg16 stages, {r['n_devices']} devices",
                "sparse",
                r["sparse_us_per_plan"],
                "us/plan",
                anchor=("dense", r["dense_us_per_plan"]),
                repeats=mode.repeats,
                note=f"batch {r['batch']}, equal latencies: {r['equal']}",
            ),
        )
    ]


def bench_nptp_env(mode: Mode) -> list[dict[str, Any]]:
    """NPTP-v0/v1 steps/s: the tile cost model's loop vs numpy path, and the batched env
    (``bench_nptp_env``), against NPTP-v0 with the loop scorer."""
    from splitgym.experiments.bench_nptp_env import measure

    quick = mode.name != "smallest"
    rows = measure(
        "vgg16" if quick else "vgg11", 224 if quick else 64, mode.env_s, mode.repeats, (64, 1024) if quick else (16,)
    )
    base = rows[0]["steps_per_s"]
    return [
        _row(
            "nptp-env",
            f"{r['model']} {r['input']}",
            r["case"],
            r["steps_per_s"],
            "steps/s",
            anchor=("NPTP-v0, loop scorer", base),
            repeats=r["repeats"],
        )
        for r in rows
    ]


def bench_planners(mode: Mode) -> list[dict[str, Any]]:
    from splitgym.costmodels.cluster import Cluster
    from splitgym.costmodels.graph import ModelGraph
    from splitgym.experiments.bench_planners import time_planners

    found = time_planners(ModelGraph.from_torchvision("vgg16"), Cluster.from_config("DB", 300.0), mode.repeats)
    return [
        _row(
            "planners",
            f"{r['planner']} vgg16 DB 300 Mbps",
            "plan time",
            r["plan_s"] * 1e3,
            "ms",
            repeats=mode.repeats,
            note=f"plan's simulated latency {r['latency_ms']:.1f} ms",
        )
        for r in found
    ]


def bench_executor(mode: Mode) -> list[dict[str, Any]]:
    from splitgym.experiments.bench_executor import main as executor_main

    with _quiet():
        r = executor_main(list(mode.executor))
    case = f"{r['model']} {r['input'][-1]} px, 1 thread"
    unsplit = min(r["unsplit_s"]) * 1e3
    rows = [_row("executor", case, "unsplit model", unsplit, "ms", note="min of the runs before and after")]
    for key, what in (("a_single", "one volume, 4-way"), ("b_stages", "stages, 4-way")):
        p = r[key]
        note = f"MAC ratio {p['mac_ratio']:.3f}, overhead {p['overhead']:.3f}"
        rows.append(_row("executor", case, what, p["measured_s"] * 1e3, "ms", anchor=("unsplit", unsplit), note=note))
    return rows


def bench_queueing(mode: Mode) -> list[dict[str, Any]]:
    from splitgym.experiments.bench_queueing import main as queueing_main

    if not mode.queue_scenario:
        return [_skipped("queueing", f"skipped in --mode {mode.name}")]
    with _quiet():
        r = queueing_main(["--scenario", mode.queue_scenario, "--repeats", str(mode.repeats)])
    local = r["policies"]["local"]["wall_s"]
    case = f"{r['scenario']}, {r['images']} images"
    return [
        _row(
            "queueing",
            f"{case}, {name}",
            "wall time",
            p["wall_s"],
            "s",
            anchor=("local", local) if name != "local" else None,
            repeats=mode.repeats,
            note=f"{p['events_per_s']} events/s",
        )
        for name, p in r["policies"].items()
    ]


def _wall(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - t0


def bench_cli(mode: Mode) -> list[dict[str, Any]]:
    from splitgym.experiments.bench_cli import measure

    if not mode.processes:
        return [_skipped("cli", f"skipped in --mode {mode.name} (starts interpreters)")]
    bare = [_wall([sys.executable, "-c", "pass"]) for _ in range(mode.repeats)]
    times = measure({"this": sys.executable}, mode.repeats)["this"]
    start = statistics.median(bare)
    note = "this interpreter alone (bench_cli --before OTHER_PYTHON compares two checkouts)"
    return [
        _row("cli", "python -c pass", "wall time", start, "s", repeats=mode.repeats, note=note),
        *(
            _row(
                "cli",
                f"splitgym {cmd} (vgg16, DB)",
                "wall time",
                statistics.median(t),
                "s",
                anchor=("python -c pass", start),
                repeats=mode.repeats,
                note=note,
            )
            for cmd, t in times.items()
        ),
    ]


def bench_hosts(mode: Mode) -> list[dict[str, Any]]:
    from splitgym.executors.netns import netns_available
    from splitgym.experiments.bench_hosts import _parser, bench

    reason = netns_available() if mode.processes else f"skipped in --mode {mode.name} (starts torchrun)"
    if reason:
        return [_skipped("hosts", reason)]
    argv = ["--repeats", str(mode.repeats), "--messages", "20", "--sizes", "4,65536", "--images", "5"]
    with _quiet():
        r = bench(_parser().parse_args(argv))
    rows = []
    for p in r["pingpong"]:
        case = f"{p['bytes']} B over a {r['mbps']:g} Mbit veth"
        rows.append(_row("hosts", case, "gloo send/recv one way", p["gloo_us"], "us", repeats=mode.repeats))
        anchor = ("gloo send/recv", p["gloo_us"])
        rows.append(
            _row("hosts", case, "executor one way", p["executor_us"], "us", anchor=anchor, repeats=mode.repeats)
        )
    note = f"netns available (root); {r['images']} images, {r['messages_per_image']} messages per image"
    lat = r["executor_latency_median_s"] * 1e3
    rows.append(_row("hosts", "vgg11 64 px, tx2x3, two hosts", "latency", lat, "ms", repeats=mode.repeats, note=note))
    return rows


def _skipped(benchmark: str, reason: str) -> dict[str, Any]:
    return _row(benchmark, "", "skipped", None, "", repeats=0, note=reason)


SECTIONS: dict[str, Callable[[Mode], list[dict[str, Any]]]] = {
    "envs": bench_envs,
    "ddpg": bench_ddpg,
    "partitions": bench_partitions,
    "exact": bench_exact,
    "pilot": bench_pilot,
    "simulator": bench_simulator,
    "env": bench_env,
    "vecenv": bench_vecenv,
    "sparse": bench_sparse,
    "nptp-env": bench_nptp_env,
    "planners": bench_planners,
    "executor": bench_executor,
    "queueing": bench_queueing,
    "cli": bench_cli,
    "hosts": bench_hosts,
}


def _section(name: str, mode: Mode) -> list[dict[str, Any]]:
    """One section's rows with the load before and after it; a failure becomes one row."""
    before = os.getloadavg()[0]
    try:
        rows = SECTIONS[name](mode)
    except Exception as e:  # noqa: BLE001  (one broken benchmark must not lose the table)
        rows = [_row(name, "", "failed", None, "", repeats=0, note=f"{type(e).__name__}: {e}"[:200])]
    after = os.getloadavg()[0]
    return [{k: {"load_before": before, "load_after": after}.get(k, r.get(k)) for k in COLUMNS} for r in rows]


def _cell(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"
    return str(x).replace("|", "\\|")


def markdown(rows: list[dict[str, Any]], header: str) -> str:
    """The rows as a Markdown table under ``header``."""
    cols = [c for c in COLUMNS if c != "load_before"]
    names = {"load_after": "load (before -> after)", "ratio": "ratio vs anchor"}
    lines = [header, "", "| " + " | ".join(names.get(c, c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [_cell(r[c]) for c in cols]
        cells[cols.index("load_after")] = f"{r['load_before']:.2f} -> {r['load_after']:.2f}"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run(mode: Mode, out: Path, only: list[str] | None = None) -> list[dict[str, Any]]:
    """Every section (or ``only`` those), in order; writes ``bench.csv`` and ``bench.md`` to ``out``."""
    load0, t0 = os.getloadavg(), time.perf_counter()
    rows = []
    for name in only or list(SECTIONS):
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        rows += _section(name, mode)
    load1 = os.getloadavg()
    write_csv(out / "bench.csv", rows)
    header = (
        f"# splitgym benchmarks (--mode {mode.name})\n\n"
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, {time.perf_counter() - t0:.0f} s; "
        f"load average (1/5/15 min) {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f} before, "
        f"{load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f} after. Ratio = value / anchor's value, both from "
        "this run; values are medians over the repeats."
    )
    atomic_write(out / "bench.md", markdown(rows, header))
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", default="quick", choices=list(MODES))
    ap.add_argument("--out", default=RESULTS_DIR)
    ap.add_argument("--only", type=lambda s: s.split(","), default=None, help=f"of {','.join(SECTIONS)}")
    args = ap.parse_args(argv)
    unknown = set(args.only or []) - set(SECTIONS)
    if unknown:
        ap.error(f"--only: unknown section(s) {', '.join(sorted(unknown))} (known: {', '.join(SECTIONS)})")
    rows = run(MODES[args.mode], Path(args.out), args.only)
    print((Path(args.out) / "bench.md").read_text())
    return rows


if __name__ == "__main__":
    main()
