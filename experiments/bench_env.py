"""Benchmark: what the DistrEdge env adds over the bare simulator, and the single-plan fast path.

    python -m splitgym.experiments.bench_env [--scenario vgg16-DB-300] [--episodes 500]

Times full episodes of random actions through ``env.step`` against the same split decisions
scored volume by volume by the bare simulator (the env's own maths, no Gymnasium bookkeeping),
each with the simulator's single-plan fast path and forced onto its batched numpy path
(``env.sim.fast = False``, the step before the fast path). Every repeat runs the four variants in
turn (side by side, in one process); medians over repeats, with the load average before and
after. The issue's targets: env <= 2x the bare simulator; the fast path >= 2x the env's steps/s.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from splitgym.envs.distredge import DistrEdgeEnv, map_action
from splitgym.experiments.bench_simulator import side_by_side


def measure(scenario: str = "vgg16-DB-300", episodes: int = 500, repeats: int = 5) -> dict[str, object]:
    """The benchmark's numbers (the JSON ``main`` prints): medians over ``repeats``, side by side."""
    env = DistrEdgeEnv(scenario)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (episodes, env.L, env.N - 1)).astype(np.float32)
    heights = [int(u.height) for u in env._last]
    sim = env.sim

    def run_env(fast: bool) -> None:
        sim.fast = fast
        for ep in actions:
            env.reset()
            for a in ep:
                env.step(a)
        sim.fast = True

    def run_sim() -> None:
        for ep in actions:
            T, prev = np.zeros((1, env.N)), None
            for (first, last), a, h in zip(env.partition, ep, heights):
                cuts = map_action(a, h)[None]
                T = sim.advance(first, last, cuts, T, prev).T
                prev = cuts
            sim.finish(prev, T)

    def run_sim_fast() -> None:
        one = sim.single
        for ep in actions:
            T, prev = [0.0] * env.N, None
            for (first, last), a, h in zip(env.partition, ep, heights):
                cuts = map_action(a, h).tolist()
                T = one.advance(first, last, cuts, T, prev).T
                prev = cuts
            one.finish(prev, T)

    run_env(True)  # warm-up (builds the fast tables)
    load_before = os.getloadavg()
    t = side_by_side(
        {
            "env_fast": (lambda: run_env(True), 1),
            "env_batched": (lambda: run_env(False), 1),
            "sim_fast": (run_sim_fast, 1),
            "sim_batched": (run_sim, 1),
        },
        repeats,
    )
    steps = episodes * env.L
    return {
        "scenario": scenario,
        "volumes": env.L,
        "devices": env.N,
        "episodes": episodes,
        "repeats": repeats,
        "env_step_us": t["env_fast"] / steps * 1e6,
        "env_step_batched_path_us": t["env_batched"] / steps * 1e6,
        "env_steps_per_s": steps / t["env_fast"],
        "env_steps_per_s_batched_path": steps / t["env_batched"],
        "env_speedup": t["env_batched"] / t["env_fast"],
        "simulator_step_us": t["sim_fast"] / steps * 1e6,
        "simulator_step_batched_path_us": t["sim_batched"] / steps * 1e6,
        "ratio": t["env_fast"] / t["sim_fast"],
        "ratio_batched_path": t["env_batched"] / t["sim_batched"],
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="vgg16-DB-300")
    ap.add_argument("--episodes", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(json.dumps(measure(args.scenario, args.episodes, args.repeats), indent=1))


if __name__ == "__main__":
    main()
