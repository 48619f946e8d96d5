"""DistrEdge Section V-F: a dynamic network. Re-tuned DDPG actor vs AOFL and CoEdge over time.

    python -m splitgym.experiments.distredge_dynamic [--minutes 60] [--episodes 4000] [--retune 500]

Four Nanos whose bandwidth caps follow four seeded random-walk traces (``conf/network/dynamic.yaml``;
the paper's traces are not published), VGG-16. Re-planning happens at 0, 20 and 40 minutes, as in
the paper: DistrEdge trains its actor at t = 0 and *fine-tunes* it (``--retune`` episodes, its
exploration schedule restarted) at 20 and 40 min on the network observed then; AOFL re-runs its
brute-force search on the bandwidths observed then; CoEdge, which is online, re-plans every
minute from the monitored bandwidth. Every minute each method's current plan is scored on the
network of that minute. Writes ``experiments/results/dynamic.csv`` (minute, method, latency) and
``dynamic.png``, and prints the mean per-image latency of each method and the re-tuning time
next to AOFL's search time (the paper: 40-65% of AOFL's latency; 20-210 s vs ~10 min), which
``dynamic_summary.json`` keeps and ``dynamic_summary.csv`` holds as stamped rows for the README's
spans (one per re-plan and method: its seconds and the 1-minute load when it started).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from splitgym.agents.actor_init import scale_actor_output
from splitgym.agents.algos import ALGOS
from splitgym.agents.callbacks import BestPlanCallback
from splitgym.agents.noise import EpsilonGaussianNoise
from splitgym.agents.planners import run_planner
from splitgym.agents.train import action_noise
from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.cluster import Cluster, conf_dir
from splitgym.costmodels.network import Network
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.envs.distredge import DistrEdgeEnv
from splitgym.envs.scenarios import get_scenario
from splitgym.experiments.distredge_tables import MAX_EPISODES, METHOD, VARIANTS
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

REPLAN_MIN = (0, 20, 40)


def frozen(cluster: Cluster, t: float) -> Cluster:
    """The cluster as a planner that monitors throughput sees it at time ``t`` (static caps)."""
    net = cluster.network
    caps = {n: net.cap(n, t) for n in [*cluster.names, cluster.requester]}
    return Cluster(cluster.name, cluster.devices, Network(caps, net.latency_s, net.overhead_s))


def train_segment(
    model, env: DistrEdgeEnv, clock: float, episodes: int, noise: EpsilonGaussianNoise, first: bool
) -> tuple[np.ndarray, float]:
    """(Re-)tune on the network at ``clock``; returns the best cuts found and the seconds it took."""
    env.clock, env.time_per_episode = clock, 0.0
    env.sim.set_time(clock)
    noise.episode = 0  # restart DistrEdge's exploration schedule for the re-tuning
    best = BestPlanCallback(Path("."))
    t = time.perf_counter()
    model.learn(episodes * env.L, callback=best, reset_num_timesteps=first, progress_bar=False)
    return best.best_decision, time.perf_counter() - t


class Tuner:
    """One DistrEdge variant's agent across the re-plans: its env, DDPG model and noise.

    ``paper``: Eq. 9 cuts on LC-PSS's partition, DE's DDPG settings. ``ours``: the variant of
    ``distredge_tables.VARIANTS["ours"]`` (its ``agent.*`` and ``env.*`` overrides are read from
    there); at every re-plan the partition pilot re-runs on the links as monitored then
    (:meth:`DistrEdgeEnv.repilot`), the actor's head is zeroed again so that its first, noise-free
    episode plays the new pilot's decision, and the rest of the actor and the critic are fine-tuned."""

    def __init__(self, variant: str, scenario: str, seed: int) -> None:
        self.variant = variant
        cfg = OmegaConf.create(
            {"agent": OmegaConf.load(conf_dir() / "agent" / "ddpg.yaml"), "env": {"action": "cuts", "partition": None}}
        )
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(VARIANTS[variant])))
        sc = get_scenario(scenario)
        if cfg.env.partition:
            sc = dataclasses.replace(sc, partition=str(cfg.env.partition))
        self.env = DistrEdgeEnv(sc, action=str(cfg.env.action))
        self.noise = action_noise(cfg, self.env.action_space.shape[0], seed)
        self.model = ALGOS["ddpg"](
            cfg.agent.policy,
            self.env,
            seed=seed,
            action_noise=self.noise,
            **OmegaConf.to_container(cfg.agent.kwargs, resolve=True),
        )
        self.init_scale = cfg.agent.get("actor_init_scale")
        self._init_actor()

    def _init_actor(self) -> None:
        if self.init_scale is not None:
            scale_actor_output(self.model, float(self.init_scale))

    def replan(self, cluster: Cluster, t: float, episodes: int, first: bool) -> tuple[Plan, float]:
        """(Re-)tune on the network at ``t``: the best plan found and the seconds it took (the
        pilot's included)."""
        t0 = time.perf_counter()
        if self.variant == "ours":
            self.env.sim.set_time(t)  # the observation's scale (T_equal) on the links of now
            self.env.repilot(frozen(cluster, t))
            if not first:
                self._init_actor()
            self.noise.played = 0  # the first re-tuning episode is an anchor: the pilot's decision
        cuts, _ = train_segment(self.model, self.env, t, episodes, self.noise, first)
        return self.env.plan(cuts), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="vgg16-dynamic-nano")
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--episodes", type=int, default=4000, help="initial training episodes (ours: at most 1000)")
    ap.add_argument("--retune", type=int, default=500, help="fine-tuning episodes at each re-plan")
    ap.add_argument("--variants", default="paper,ours", help=f"comma-separated from {sorted(VARIANTS)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--out", default=RESULTS_DIR, help="results folder (default: %(default)s, under the working directory)"
    )
    args = ap.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    bad = [v for v in variants if v not in VARIANTS]
    if bad or not variants:
        raise SystemExit(f"--variants: unknown {bad[0] if bad else args.variants!r} (known: {', '.join(VARIANTS)})")
    torch.set_num_threads(1)

    tuners = {METHOD[v]: Tuner(v, args.scenario, args.seed) for v in variants}
    env = next(iter(tuners.values())).env
    cluster, graph = env.cluster, env.graph
    plans: dict[str, Plan] = {}
    timing: list[dict[str, float]] = []
    rows: list[dict[str, float | str]] = []
    sim = Simulator(graph, cluster)
    for minute in range(args.minutes):
        t = minute * 60.0
        if minute in REPLAN_MIN:
            times: dict[str, float] = {"minute": minute, "load": os.getloadavg()[0]}
            for method, tuner in tuners.items():
                episodes = args.episodes if minute == 0 else args.retune
                if minute == 0:
                    episodes = min(episodes, MAX_EPISODES.get(tuner.variant, episodes))
                plans[method], times[f"{method}_tune_s"] = tuner.replan(cluster, t, episodes, first=minute == 0)
            a0 = time.perf_counter()
            plans["aofl"] = run_planner("aofl", graph, frozen(cluster, t))
            timing.append({**times, "aofl_search_s": time.perf_counter() - a0})
        plans["coedge"] = run_planner("coedge", graph, frozen(cluster, t))  # online: every minute
        sim.set_time(t)
        bw = float(np.mean([cluster.network.cap(n, t) for n in cluster.names]))
        for method, plan in plans.items():
            rows.append(
                {
                    "minute": minute,
                    "mean_mbps": bw,
                    "method": method,
                    "latency_ms": sim.score(plan.partition, plan.cuts) * 1e3,
                }
            )

    out = Path(args.out)
    write_csv(out / "dynamic.csv", rows)
    mean = {m: float(np.mean([r["latency_ms"] for r in rows if r["method"] == m])) for m in plans}
    summary = {
        "mean_latency_ms": mean,
        "replans": timing,
        **{f"{m}_over_{b}": mean[m] / mean[b] for m in tuners for b in ("aofl", "coedge")},
    }
    atomic_write(out / "dynamic_summary.json", json.dumps(summary, indent=1))
    write_csv(out / "dynamic_summary.csv", summary_rows(timing))
    plot(rows, out / "dynamic.png")
    print(json.dumps(summary, indent=1))


def summary_rows(timing: list[dict[str, float]]) -> list[dict[str, float | str]]:
    """The summary's re-plan times as one row per (minute, method), so a README span picks one by
    filters: ``seconds`` is a DRL variant's training (minute 0) or fine-tuning, or AOFL's search."""
    return [
        {"minute": t["minute"], "method": key.rsplit("_", 2)[0], "seconds": v, "load": round(t["load"], 2)}
        for t in timing
        for key, v in t.items()
        if key.endswith(("_tune_s", "_search_s"))
    ]


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for m in dict.fromkeys(r["method"] for r in rows):
        pts = [(r["minute"], r["latency_ms"]) for r in rows if r["method"] == m]
        ax.plot(*zip(*pts), label=m, drawstyle="steps-post")
    ax2 = ax.twinx()
    bw = sorted({(r["minute"], r["mean_mbps"]) for r in rows})
    ax2.plot(*zip(*bw), color="grey", alpha=0.4, label="mean cap (Mbps)")
    ax2.set_ylabel("mean bandwidth cap (Mbps)")
    for m in REPLAN_MIN:
        ax.axvline(m, color="k", lw=0.5, ls=":")
    ax.set_xlabel("minute")
    ax.set_ylabel("per-image latency (ms, simulated)")
    ax.set_title("VGG-16 on 4 Nanos, dynamic bandwidth")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
