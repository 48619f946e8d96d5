"""Benchmark: the batched DistrEdge-v0 vector envs against SyncVectorEnv/DummyVecEnv of the single env.

    python -m splitgym.experiments.bench_vecenv [--batches 1,8,64,1024] [--ref-batches 8,64]
        [--seconds 0.5] [--repeats 3] [--scenario vgg16-DB-300] [--out experiments/results]

Steps/s counts instance steps (one vector step of B instances = B steps), over whole episodes of
random actions drawn in advance (resets included, by each library's autoreset). Variants: our SB3
``DistrEdgeVecEnv`` and Gymnasium ``DistrEdgeVectorEnv`` at every B of ``--batches``; SB3's
``DummyVecEnv`` and Gymnasium's ``SyncVectorEnv`` of ``DistrEdgeEnv`` at every B of
``--ref-batches``; and the bare simulator, ``Simulator.score`` of B decisions per call (L steps
each; at B = 1 its single-plan path), the ceiling of an env built on it. Each repeat runs every
variant once, in turn (side by side, one process); medians over repeats, with the load average
before and after.

Extrapolation to B = 1,024 for the references: they step their B envs one after the other in a
Python loop, so their cost per instance step does not fall with B; the rows at B = 8 and 64 show
how flat it is, and the ratio at B = 1,024 is taken against the B = 8 rate (the issue's anchor).
Writes ``bench_vecenv.csv`` to ``--out`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium.vector import SyncVectorEnv
from stable_baselines3.common.vec_env import DummyVecEnv

from splitgym.envs.distredge import DistrEdgeEnv, map_action
from splitgym.envs.distredge_gym_vec import DistrEdgeVectorEnv
from splitgym.envs.distredge_sb3_vec import DistrEdgeVecEnv
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["measure", "main", "ANCHOR"]

ANCHOR = "SyncVectorEnv"  # the anchor: SyncVectorEnv of the single env at B = 8


def _runner(env: Any, B: int, L: int, n_act: int, gym_api: bool) -> Callable[[float], float]:
    """A function that steps ``env`` in whole episodes for about ``seconds``; instance steps/s."""
    actions = np.random.default_rng(B).uniform(-1, 1, (L, B, n_act)).astype(np.float32)
    if gym_api:
        env.reset(seed=0)
    else:
        env.reset()

    def run(seconds: float) -> float:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for a in actions:
                env.step(a)
            if gym_api:  # NEXT_STEP autoreset: one more call resets (it counts as no step)
                env.step(actions[0])
            n += L * B
        return n / (time.perf_counter() - t0)

    return run


def _score_runner(env: DistrEdgeEnv, B: int) -> Callable[[float], float]:
    """The bare simulator: ``Simulator.score`` of B random decisions per call (L steps each, no
    env around it): the ceiling of any env built on it."""
    rng = np.random.default_rng(B)
    cuts = np.stack(
        [np.stack([map_action(a, int(u.height)) for a in rng.uniform(-1, 1, (B, env.N - 1))]) for u in env._last],
        axis=1,
    )  # (B, L, N+1)
    partition = env.partition

    def run(seconds: float) -> float:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            env.sim.score(partition, cuts)
            n += env.L * B
        return n / (time.perf_counter() - t0)

    return run


def _variants(scenario: str, batches: list[int], ref_batches: list[int]) -> dict[tuple[str, int], Callable]:
    template = DistrEdgeEnv(scenario)
    L, n_act = template.L, int(template.action_space.shape[0])
    out: dict[tuple[str, int], Callable[[float], float]] = {}
    for B in ref_batches:
        out[("DummyVecEnv", B)] = _runner(DummyVecEnv([lambda: DistrEdgeEnv(scenario)] * B), B, L, n_act, False)
        out[("SyncVectorEnv", B)] = _runner(SyncVectorEnv([lambda: DistrEdgeEnv(scenario)] * B), B, L, n_act, True)
    for B in batches:
        out[("DistrEdgeVecEnv", B)] = _runner(DistrEdgeVecEnv(B, scenario=scenario), B, L, n_act, False)
        out[("DistrEdgeVectorEnv", B)] = _runner(DistrEdgeVectorEnv(B, scenario=scenario), B, L, n_act, True)
        out[("Simulator.score", B)] = _score_runner(template, B)
    return out


def measure(
    scenario: str = "vgg16-DB-300",
    batches: tuple[int, ...] = (1, 8, 64, 1024),
    ref_batches: tuple[int, ...] = (8, 64),
    seconds: float = 0.5,
    repeats: int = 3,
) -> list[dict[str, Any]]:
    """One row per (variant, B): median instance steps/s and the ratios against the references
    at B = ``ref_batches[0]`` (all measured in this call, side by side)."""
    variants = _variants(scenario, list(batches), list(ref_batches))
    for run in variants.values():
        run(0.02)  # warm-up
    load_before = os.getloadavg()
    rates: dict[tuple[str, int], list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for key, run in variants.items():
            rates[key].append(run(seconds))
    load_after = os.getloadavg()
    med = {k: statistics.median(v) for k, v in rates.items()}
    b0 = ref_batches[0]
    rows = []
    for (variant, B), rate in med.items():
        rows.append(
            {
                "scenario": scenario,
                "variant": variant,
                "B": B,
                "steps_per_s": rate,
                "us_per_step": 1e6 / rate,
                f"ratio_vs_SyncVectorEnv_{b0}": rate / med[("SyncVectorEnv", b0)],
                f"ratio_vs_DummyVecEnv_{b0}": rate / med[("DummyVecEnv", b0)],
                "repeats": repeats,
                "seconds_per_repeat": seconds,
                "load_before": f"{load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}",
                "load_after": f"{load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}",
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, with the load in a line above it."""
    ratios = [k for k in rows[0] if k.startswith("ratio_vs_")]
    head = ["variant", "B", "steps/s", "us/step", *ratios]
    lines = [
        f"{rows[0]['scenario']}; medians of {rows[0]['repeats']} x {rows[0]['seconds_per_repeat']} s; "
        f"load (1/5/15 min) {rows[0]['load_before']} before, {rows[0]['load_after']} after",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        cells = [r["variant"], str(r["B"]), f"{r['steps_per_s']:,.0f}", f"{r['us_per_step']:.3g}"]
        lines.append("| " + " | ".join(cells + [f"{r[k]:.3g}" for k in ratios]) + " |")
    return "\n".join(lines) + "\n"


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="vgg16-DB-300")
    ap.add_argument("--batches", type=_ints, default=[1, 8, 64, 1024])
    ap.add_argument("--ref-batches", type=_ints, default=[8, 64])
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=RESULTS_DIR)
    args = ap.parse_args(argv)
    for name in ("batches", "ref_batches"):
        bad = [b for b in getattr(args, name) if b < 1]
        if bad or not getattr(args, name):
            ap.error(f"--{name.replace('_', '-')}: expected integers >= 1, got {getattr(args, name)}")
    if args.repeats < 1 or args.seconds <= 0:
        ap.error(f"--repeats/--seconds: expected >= 1 and > 0, got {args.repeats} and {args.seconds}")
    rows = measure(args.scenario, tuple(args.batches), tuple(args.ref_batches), args.seconds, args.repeats)
    write_csv(Path(args.out) / "bench_vecenv.csv", rows)
    print(markdown(rows))
    return rows


if __name__ == "__main__":
    main()
