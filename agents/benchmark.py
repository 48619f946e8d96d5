"""``splitgym benchmark``: planners, random search and trained policies over a named split.

Every target gets a latency per (seed, instance). Its normalised score on an instance is
``T_ref / T``: T_ref the strongest shipped reference of that instance (the best of every
classical planner and exact search where tractable, ``references.json`` beside the split), so 1
means "as good as the best known plan" and > 1 beats it. Aggregates follow rliable's protocol
(Agarwal et al. 2021): the interquartile mean and the mean over the (seed x instance) score
matrix, each with a 95% stratified-bootstrap confidence interval over seeds. A deterministic
planner has one row, so its interval is a point: no seed moves it.

Targets: a planner name (``aofl``, ``exact``, ...), ``random`` (the best of ``random_evals``
uniform episodes per instance, a new draw per seed) or a folder of runs of the split's env
(DistrEdge-v1, NPTP-v1, MSMDI-v1, HiDP-v0; each adapter loads and refuses runs of its env). A
DistrEdge-v1 run trained on the whole train split (``env.instance`` null) is played zero-shot on
every instance; one trained on one instance (``env.instance=i``) only on that one (seed = the
run's seed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from splitgym.agents.bench_adapters import BenchAdapter, adapter_for, load_policy
from splitgym.costmodels.errors import ConfigError, SplitgymError
from splitgym.envs.splits import Split, get_split, load_references

__all__ = ["TargetResult", "evaluate_target", "finished_runs", "run_benchmark"]


@dataclass
class TargetResult:
    name: str
    latency: np.ndarray  # (seeds, instances) in seconds; NaN where the target did not play
    evals_per_instance: str  # what it spent per instance (a planner: "-", zero-shot: "1", random: E)
    seeds: list[int] = field(default_factory=list)


def finished_runs(folder: Path) -> list[Path]:
    """Every run below ``folder`` (itself included) with an exported policy."""
    runs = sorted({p.parent.parent for p in folder.glob("**/export/policy.zip")})
    if not runs:
        raise SplitgymError(f"target: no run with export/policy.zip under {str(folder)!r}")
    return runs


def _policy_target(folder: Path, adapter: BenchAdapter, split: Split) -> list[TargetResult]:
    """The runs' deterministic policies; for specialists also the best episode each found while
    training (``summary.json``'s ``best_latency_ms``: what DistrEdge reports, from as many noisy
    evaluations as its episodes, so it compares with random search of that budget)."""
    names = adapter.instance_names()
    rows: dict[int, np.ndarray] = {}
    found: dict[int, np.ndarray] = {}
    episodes: set[int] = set()
    for run in finished_runs(folder):
        cfg = OmegaConf.load(run / "config.yaml")
        seed, inst = int(cfg.seed), OmegaConf.select(cfg, "env.instance")
        cols = range(len(names))
        if inst is not None:  # a specialist: its own instance only
            trained_on = get_split(str(cfg.env.split)).instances[int(inst)].name
            if trained_on not in names:
                continue
            cols = [names.index(trained_on)]
            episodes.add(int(OmegaConf.select(cfg, "episodes")))
            best = json.loads((run / "export" / "summary.json").read_text()).get("best_latency_ms")
            if best is not None:
                found.setdefault(seed, np.full(len(names), np.nan))[cols[0]] = best / 1e3
        act = load_policy(run, str(cfg.agent.algo))
        row = rows.setdefault(seed, np.full(len(names), np.nan))
        for j in cols:
            row[j] = adapter.policy_latency(j, act)
    if not rows:
        raise SplitgymError(f"target {folder}: none of its runs was trained on an instance of {split.name}")
    seeds = sorted(rows)
    evals = "1 (zero-shot)" if not episodes else "/".join(str(e) for e in sorted(episodes))
    out = [TargetResult(str(folder), np.stack([rows[s] for s in seeds]), evals, seeds)]
    if found and sorted(found) == seeds:
        out.append(TargetResult(f"{folder} (best episode)", np.stack([found[s] for s in seeds]), evals, seeds))
    return out


def evaluate_target(
    target: str, adapter: BenchAdapter, split: Split, seeds: int, random_evals: int
) -> list[TargetResult]:
    """One target's latencies on every instance of the split (a folder of runs: its policies', and
    its specialists' best episodes')."""
    n = len(adapter.instance_names())
    if Path(target).is_dir():
        return _policy_target(Path(target), adapter, split)
    if target == "random":
        lat = np.array(
            [[adapter.random_search_latency(j, random_evals, 1000 * s + j) for j in range(n)] for s in range(seeds)]
        )
        return [TargetResult(f"random@{random_evals}", lat, str(random_evals), list(range(seeds)))]
    lat = np.array([[adapter.planner_latency(j, target) for j in range(n)]])
    return [TargetResult(target, lat, "-", [0])]


def reference_latency(split: Split) -> tuple[np.ndarray, list[str]]:
    """Per instance, the strongest shipped reference (seconds) and which method it is."""
    refs = load_references(split.name)
    best, which = [], []
    for sc in split.instances:
        known = {k: v for k, v in refs[sc.name].items() if v is not None}
        name = min(known, key=known.get)
        best.append(known[name] / 1e3)
        which.append(name)
    return np.array(best), which


def subset(split: Split, instances: list[int] | None) -> Split:
    """The split restricted to some of its instances (by index), for a quick look or a test."""
    if instances is None:
        return split
    bad = [i for i in instances if not 0 <= i < len(split.instances)]
    if bad or not instances:
        raise ConfigError(f"instances: expected indices in [0, {len(split.instances)}), got {instances}")
    return replace(
        split,
        instances=tuple(split.instances[i] for i in instances),
        held_out=tuple(split.held_out[i] for i in instances),
    )


def run_benchmark(
    targets: list[str],
    split_name: str,
    seeds: int = 3,
    random_evals: int | None = None,
    instances: list[int] | None = None,
) -> dict[str, Any]:
    """Every target over the split (or ``instances`` of it): per-instance rows and rliable
    aggregates (see the module)."""
    from splitgym.agents.bench_report import aggregate

    if seeds < 1:
        raise ConfigError(f"seeds: expected >= 1, got {seeds}")
    if not targets:
        raise ConfigError("targets: give at least one planner name, 'random' or a run folder")
    split = subset(get_split(split_name), instances)
    adapter = adapter_for(split)
    evals = random_evals if random_evals is not None else _default_evals(targets)
    if "random" in targets and evals < 1:
        raise ConfigError(f"random-evals: expected >= 1, got {evals}")
    ref, ref_name = reference_latency(split)
    results = [r for t in targets for r in evaluate_target(t, adapter, split, seeds, evals)]
    rows = []
    for res in results:
        for i, seed in enumerate(res.seeds):
            for j, sc in enumerate(split.instances):
                if np.isnan(res.latency[i, j]):
                    continue
                rows.append(
                    {
                        "target": res.name,
                        "seed": seed,
                        "instance": sc.name,
                        "held_out": "+".join(split.held_out[j]) or "none",
                        "latency_ms": res.latency[i, j] * 1e3,
                        "reference_ms": ref[j] * 1e3,
                        "reference": ref_name[j],
                        "score": ref[j] / res.latency[i, j],
                    }
                )
    return {"split": split_name, "rows": rows, "aggregate": aggregate(results, ref, split)}


def _default_evals(targets: list[str]) -> int:
    """Random search's budget when not given: the policy runs' median training episodes (the
    evaluations a specialist spent on its instance); 100 with no run among the targets."""
    episodes = []
    for t in targets:
        if Path(t).is_dir():
            for run in finished_runs(Path(t)):
                episodes.append(int(OmegaConf.select(OmegaConf.load(run / "config.yaml"), "episodes")))
    return int(np.median(episodes)) if episodes else 100
