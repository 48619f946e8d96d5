"""PPO on ``splitgym/HiDP-v0`` (planners' menu) against HiDP, DisNet, OmniBoost and the one-step
earliest-finish look-ahead, on the same held-out arrival streams.

    nice -n 10 python -m splitgym.experiments.hidp_env_ppo                   # 3 seeds x 8k steps
    python -m splitgym.experiments.hidp_env_ppo --timesteps 256 --seeds 0 --eval-episodes 1 --out /tmp/x

Per training seed: SB3 PPO (MlpPolicy, CPU, one thread, rewards normalised by ``VecNormalize``
since a request's slowdown ranges over 1-30, an entropy bonus) learns on episodes of 64 requests
drawn from seeds of its own; then every policy runs the same ``--eval-episodes`` episodes (reset seeds
10_000 + i, never trained on). ``--preview`` adds each menu entry's look-ahead finish time to the
observation (files ``hidp_env_ppo_preview.*``). Writes ``hidp_env_ppo.csv`` (one row per policy, training seed and
evaluation episode) and ``hidp_env_ppo.md`` (the median over training seeds of each policy's mean
over the episodes, with the min-max over seeds).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from splitgym.agents.planners.nodes.hidp_menu import BASELINES, planner_menu
from splitgym.agents.planners.nodes.hidp_policies import (
    EarliestFinishPolicy,
    FixedPolicy,
    ModelPolicy,
    Policy,
    RandomPolicy,
    run_episode,
)
from splitgym.costmodels.atomic import atomic_write
from splitgym.envs.hidp_env import HiDPEnv
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

EVAL_BASE = 10_000
METRICS = ("return", "mean_latency_ms", "throughput_rps")


def evaluate(env: HiDPEnv, policies: list[Policy], episodes: int, train_seed: int) -> list[dict[str, Any]]:
    rows = []
    for pol in policies:
        for i in range(episodes):
            out = run_episode(env, pol, EVAL_BASE + i)
            picks = ";".join(f"{k}={v}" for k, v in sorted(out.pop("picks").items()))
            rows.append({**out, "train_seed": train_seed, "seed": EVAL_BASE + i, "picks": picks})
    return rows


def one_seed(env: HiDPEnv, args: argparse.Namespace, seed: int) -> tuple[list[dict[str, Any]], float]:
    """Train on ``env`` (its plan menus cached across seeds) and evaluate every policy."""
    venv = VecNormalize(DummyVecEnv([lambda: Monitor(env)]), norm_obs=False, norm_reward=True)
    model = PPO(
        "MlpPolicy", venv, seed=seed, n_steps=512, batch_size=128, ent_coef=args.ent_coef, device="cpu", verbose=0
    )
    t = time.perf_counter()
    model.learn(total_timesteps=args.timesteps)
    train_s = time.perf_counter() - t
    pols: list[Policy] = [ModelPolicy(model), *(FixedPolicy(b) for b in BASELINES), EarliestFinishPolicy()]
    pols.append(RandomPolicy(seed))
    return evaluate(env, pols, args.eval_episodes, seed), train_s


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per policy: the median over training seeds of the per-seed mean, and the min-max."""
    out = []
    for pol in dict.fromkeys(r["policy"] for r in rows):
        per_seed: dict[int, list[dict[str, Any]]] = {}
        for r in rows:
            if r["policy"] == pol:
                per_seed.setdefault(r["train_seed"], []).append(r)
        row: dict[str, Any] = {"policy": pol, "train_seeds": len(per_seed)}
        for m in METRICS:
            means = [float(np.mean([r[m] for r in rs])) for rs in per_seed.values()]
            row[m] = float(np.median(means))
            row[f"{m}_min"], row[f"{m}_max"] = min(means), max(means)
        out.append(row)
    return out


def markdown(summ: list[dict[str, Any]], args: argparse.Namespace, train_s: list[float]) -> str:
    head = (
        f"PPO on splitgym/HiDP-v0 (planners' menu, hidp-dynamic, rates {args.rates} req/s, preview {args.preview}, "
        f"{args.requests} requests/episode, reward {args.reward}); {args.timesteps} steps per seed, "
        f"ent_coef {args.ent_coef}, rewards normalised (VecNormalize), seeds {args.seeds}, "
        f"training {np.median(train_s):.0f} s median per seed; "
        f"{args.eval_episodes} held-out episodes. Median over training seeds [min-max].\n\n"
        "| policy | return | mean latency (ms) | throughput (req/s) |\n|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['policy']} | "
        + " | ".join(f"{r[m]:.2f} [{r[m + '_min']:.2f} to {r[m + '_max']:.2f}]" for m in METRICS)
        + " |\n"
        for r in summ
    )
    return head + body


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--timesteps", type=int, default=8_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--eval-episodes", type=int, default=5)
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--ent-coef", type=float, default=0.01, help="PPO's entropy bonus (keeps exploring)")
    ap.add_argument("--rates", type=float, nargs="+", default=[16.0, 8.0])
    ap.add_argument("--reward", default="latency", choices=["latency", "throughput"])
    ap.add_argument("--preview", action="store_true", help="each entry's look-ahead finish time in the observation")
    ap.add_argument("--out", default=RESULTS_DIR)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    rows, train_s = [], []
    env = HiDPEnv(
        rates=tuple(args.rates), requests=args.requests, reward=args.reward, menu=planner_menu, preview=args.preview
    )
    for seed in args.seeds:
        r, s = one_seed(env, args, seed)
        rows += r
        train_s.append(s)
        print(f"seed {seed}: trained in {s:.0f} s", flush=True)
    out = Path(args.out)
    stem = "hidp_env_ppo_preview" if args.preview else "hidp_env_ppo"
    write_csv(out / f"{stem}.csv", rows)
    summ = summary(rows)
    text = markdown(summ, args, train_s)
    atomic_write((out / f"{stem}.md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
