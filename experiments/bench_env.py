"""Benchmark: what the DistrEdge env adds over the bare simulator.

    python -m splitgym.experiments.bench_env [--scenario vgg16-DB-300] [--episodes 2000]

Times full episodes of random actions through ``env.step`` against the same split decisions
scored volume by volume with ``Simulator.advance`` + ``finish`` (the env's own maths, no Gymnasium
bookkeeping), median of repeats in one run. The issue's target: env <= 2x the bare simulator.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from splitgym.envs.distredge import DistrEdgeEnv, map_action


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="vgg16-DB-300")
    ap.add_argument("--episodes", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    env = DistrEdgeEnv(args.scenario)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (args.episodes, env.L, env.N - 1)).astype(np.float32)
    heights = [int(u.height) for u in env._last]
    sim = env.sim

    def run_env() -> None:
        for ep in actions:
            env.reset()
            for a in ep:
                env.step(a)

    def run_sim() -> None:
        for ep in actions:
            T, prev = np.zeros((1, env.N)), None
            for (first, last), a, h in zip(env.partition, ep, heights):
                cuts = map_action(a, h)[None]
                T = sim.advance(first, last, cuts, T, prev).T
                prev = cuts
            sim.finish(prev, T)

    def median(fn) -> float:
        out = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
        return statistics.median(out)

    t_env, t_sim = median(run_env), median(run_sim)
    steps = args.episodes * env.L
    print(
        json.dumps(
            {
                "scenario": args.scenario,
                "volumes": env.L,
                "devices": env.N,
                "episodes": args.episodes,
                "env_step_us": t_env / steps * 1e6,
                "simulator_step_us": t_sim / steps * 1e6,
                "ratio": t_env / t_sim,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
