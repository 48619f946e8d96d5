"""PPO wall-clock to a target score: the batched DistrEdge-v0 VecEnv against DummyVecEnv of the single env.

    python -m splitgym.experiments.ppo_vecenv [--seeds 0,1,2] [--n-envs 256] [--cap-s 90]
        [--target 1.10] [--scenario vgg16-DB-300] [--out experiments/results] [--name ppo_vecenv]

Three runs per seed, one after the other in this process (one torch thread, SB3's PPO with
``conf/agent/ppo.yaml``'s network and optimiser, reward ``relative``):

* ``batched``: ``--n-envs`` instances in :class:`~splitgym.envs.distredge_sb3_vec.DistrEdgeVecEnv`,
  rollouts of 2 episodes per instance, minibatches of 256, 10 epochs;
* ``dummy``: the same PPO on ``DummyVecEnv`` of ``--n-envs`` single ``DistrEdgeEnv``: the same
  observations for the same actions, so (seed for seed) the same learning; only the env differs;
* ``single``: the config's PPO as ``splitgym train agent=ppo`` runs it (one env, ``n_steps`` 256,
  minibatches of 64).

After every rollout the deterministic policy plays one episode on a fresh single env; a run stops
when that episode's latency is within ``--target`` times the best classical plan's (the lowest of
the equal split, Offload and AOFL on the same simulator) or at ``--cap-s`` seconds. Reported per
run: whether and when (wall seconds, this process's CPU seconds, steps) it got there, the seconds
spent in the env's steps, and the best deterministic latency seen. On a shared machine the CPU
seconds compare runs made minutes apart better than the wall seconds (the load moves between
runs; the cap is in wall seconds). Writes ``NAME.csv`` and ``NAME.md`` (``--name``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from splitgym.agents.export import reference_latencies
from splitgym.agents.planners import run_planner
from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.cluster import load_conf
from splitgym.envs.distredge import DistrEdgeEnv
from splitgym.envs.distredge_sb3_vec import DistrEdgeVecEnv
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["TargetReached", "best_classical", "run_one", "main"]

VARIANTS = ("batched", "dummy", "single")


class TargetReached(BaseCallback):
    """Plays the deterministic policy once per rollout; stops learning at the target latency or
    the wall-clock cap (seconds from the first step)."""

    def __init__(self, eval_env: DistrEdgeEnv, target_s: float, cap_s: float) -> None:
        super().__init__()
        self.eval_env, self.target_s, self.cap_s = eval_env, target_s, cap_s
        self.t0 = self.cpu0 = 0.0
        self.reached: tuple[float, float, int] | None = None  # (wall seconds, CPU seconds, timesteps)
        self.best = float("inf")
        self.stop = False

    def _on_training_start(self) -> None:
        self.t0, self.cpu0 = time.perf_counter(), time.process_time()

    def _on_step(self) -> bool:
        return not self.stop and time.perf_counter() - self.t0 < self.cap_s

    def _on_rollout_end(self) -> None:
        obs, _ = self.eval_env.reset()
        done, info = False, {}
        while not done:
            action, _ = self.model.predict(obs, deterministic=True)
            obs, _, done, _, info = self.eval_env.step(action)
        self.best = min(self.best, float(info["latency"]))
        if info["latency"] <= self.target_s and self.reached is None:
            self.reached = (time.perf_counter() - self.t0, time.process_time() - self.cpu0, self.num_timesteps)
            self.stop = True


def best_classical(env: DistrEdgeEnv) -> tuple[str, float]:
    """The lowest latency of the equal split, Offload and AOFL on ``env``'s simulator."""
    ref = reference_latencies(env)
    found = {
        "equal": ref["equal"],
        "offload": ref["offload"],
        "aofl": env.sim.simulate(run_planner("aofl", env.graph, env.cluster)).latency,
    }
    name = min(found, key=found.__getitem__)
    return name, float(found[name])


def _ppo_kwargs(variant: str, n_envs: int, steps: int) -> dict[str, Any]:
    cfg = load_conf("agent", "ppo")["kwargs"]
    kwargs = {k: v for k, v in cfg.items() if k != "policy_kwargs"}
    if variant != "single":
        # two episodes per instance per rollout, minibatches of 256 (fewer where the rollout is smaller)
        kwargs.update(n_steps=2 * steps, batch_size=min(256, 2 * steps * n_envs))
    return {**kwargs, "policy_kwargs": cfg["policy_kwargs"]}


def _vec(variant: str, n_envs: int, scenario: str) -> VecEnv:
    if variant == "batched":
        return DistrEdgeVecEnv(n_envs, scenario=scenario, reward="relative")
    n = 1 if variant == "single" else n_envs
    return DummyVecEnv([lambda: DistrEdgeEnv(scenario, reward="relative")] * n)


def run_one(variant: str, seed: int, n_envs: int, scenario: str, target: float, cap_s: float) -> dict[str, Any]:
    """One PPO run until the target or the cap; its row."""
    probe = DistrEdgeEnv(scenario, reward="relative")
    ref_name, ref_s = best_classical(probe)
    vec = _vec(variant, n_envs, scenario)
    step_wait, env_s = vec.step_wait, [0.0]

    def timed() -> Any:
        t = time.perf_counter()
        try:
            return step_wait()
        finally:
            env_s[0] += time.perf_counter() - t

    vec.step_wait = timed  # type: ignore[method-assign]
    model = PPO("MlpPolicy", vec, seed=seed, device="cpu", **_ppo_kwargs(variant, n_envs, probe.L))
    cb = TargetReached(probe, target * ref_s, cap_s)
    load = os.getloadavg()[0]
    t0, cpu0 = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=10**9, callback=cb)
    wall = time.perf_counter() - t0
    return {
        "variant": variant,
        "seed": seed,
        "n_envs": vec.num_envs,
        "reached": cb.reached is not None,
        "wall_to_target_s": cb.reached[0] if cb.reached else None,
        "cpu_to_target_s": cb.reached[1] if cb.reached else None,
        "steps_to_target": cb.reached[2] if cb.reached else None,
        "wall_s": wall,
        "cpu_s": time.process_time() - cpu0,
        "env_s": env_s[0],
        "steps": model.num_timesteps,
        "best_det_latency_ms": cb.best * 1e3,
        "target_ms": target * ref_s * 1e3,
        "reference": f"{ref_name} {ref_s * 1e3:.2f} ms",
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    """Per variant: runs that reached the target, median wall-clock and steps to it, env share."""
    r0 = rows[0]
    lines = [
        f"Target: deterministic latency <= {r0['target_ms']:.2f} ms (best classical: {r0['reference']}).",
        "",
        "| variant | n_envs | reached | median wall s to target | median CPU s to target | median steps to target "
        "| median env s / wall s | best det. latency ms (median) | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v in VARIANTS:
        rs = [r for r in rows if r["variant"] == v]
        if not rs:
            continue
        hit = [r for r in rs if r["reached"]]
        wall = f"{statistics.median(r['wall_to_target_s'] for r in hit):.1f}" if hit else "-"
        cpu = f"{statistics.median(r['cpu_to_target_s'] for r in hit):.1f}" if hit else "-"
        steps = f"{statistics.median(r['steps_to_target'] for r in hit):,.0f}" if hit else "-"
        share = statistics.median(r["env_s"] / r["wall_s"] for r in rs)
        best = statistics.median(r["best_det_latency_ms"] for r in rs)
        load = f"{min(r['load_before'] for r in rs):.1f}-{max(r['load_after'] for r in rs):.1f}"
        lines.append(
            f"| {v} | {rs[0]['n_envs']} | {len(hit)}/{len(rs)} | {wall} | {cpu} | {steps} | {share:.2f} | {best:.2f} "
            f"| {load} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    ap.add_argument("--n-envs", type=int, default=256)
    ap.add_argument("--cap-s", type=float, default=90.0)
    ap.add_argument("--target", type=float, default=1.10)
    ap.add_argument("--scenario", default="vgg16-DB-300")
    ap.add_argument("--variants", type=lambda s: s.split(","), default=list(VARIANTS))
    ap.add_argument("--out", default=RESULTS_DIR)
    ap.add_argument("--name", default="ppo_vecenv", help="file stem of the CSV and the Markdown table")
    args = ap.parse_args(argv)
    if unknown := set(args.variants) - set(VARIANTS):
        ap.error(f"--variants: unknown {sorted(unknown)} (known: {', '.join(VARIANTS)})")
    if args.n_envs < 1 or args.cap_s <= 0 or args.target <= 0:
        ap.error(f"--n-envs/--cap-s/--target: expected >= 1, > 0, > 0, got {args.n_envs}, {args.cap_s}, {args.target}")
    torch.set_num_threads(1)
    rows = []
    for seed in args.seeds:
        for v in args.variants:
            rows.append(run_one(v, seed, args.n_envs, args.scenario, args.target, args.cap_s))
            print({k: (round(x, 3) if isinstance(x, float) else x) for k, x in rows[-1].items()}, flush=True)
    write_csv(Path(args.out) / f"{args.name}.csv", rows)
    atomic_write((Path(args.out) / f"{args.name}.md"), markdown(rows))
    print(markdown(rows))
    return rows


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
