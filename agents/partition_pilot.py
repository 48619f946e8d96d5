"""Pick LC-PSS's a per environment by a pilot on the cost model (ours, beyond DistrEdge).

Why: LC-PSS sees only layer configurations, so one a gives one partition for every cluster, yet
DistrEdge's own a sweep (DE Fig. 9) and ours (``distredge_tables alpha``) show the best a depends on
the devices and links: 0.75 is best on DB @ 300 Mbps, 0.25-0.5 on four Nanos, and a partition that
fuses too much bounds every split the agent can find (on Nanos NC the exhaustive optimum on the
a = 0.75 partition is 20% slower than DeeperThings). The pilot keeps LC-PSS as the generator of
candidates and lets the cluster choose among them:

1. run LC-PSS for every a in ``alphas`` (default 0, 0.25, 0.5, 0.75, 1); keep the distinct
   partitions;
2. price each on the simulator with the same ``samples`` share decisions
   (:func:`~splitgym.agents.share_actions.share_cuts`: the whole model's linear-ratio split plus
   Gaussian perturbations of it, the same vector for every volume; common random numbers, so
   partitions are compared on equal terms);
3. keep the partition whose best decision is fastest (ties: the larger a, i.e. fewer volumes),
   and that decision: :attr:`PilotResult.centre` is the prior re-weighted so that the share action
   a = 0 decodes to it, the warm start of the env's ``action="shares"`` with this partition.

The best of a few hundred random splits is a cheap stand-in for what the agent will reach on a
partition; it costs one batched simulation per candidate (tens of ms for VGG-16 on 16 devices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.simulator import Simulator

from .lcpss import lcpss_partition
from .partitions import Partition
from .share_actions import SHARE_RANGE, prior_shares, share_cuts

__all__ = ["PilotResult", "pilot_partition", "ALPHAS"]

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class PilotResult:
    alpha: float
    partition: Partition
    latency: float  # best sampled decision on it (s)
    candidates: tuple[tuple[float, tuple[tuple[int, int], ...], float], ...]  # (a, partition, latency)
    centre: np.ndarray  # (N,) share weights whose a = 0 is that best decision


def pilot_partition(graph: ModelGraph, cluster: Cluster, alphas: tuple[float, ...] = ALPHAS,
                    samples: int = 256, spread: float = 0.5, seed: int = 0) -> PilotResult:
    """The LC-PSS partition (over ``alphas``) whose best sampled share decision is fastest."""
    if not alphas:
        raise ValueError("alphas: at least one value is needed")
    if samples < 1:
        raise ValueError(f"samples: must be >= 1, got {samples}")
    sim = Simulator(graph, cluster)
    prior = prior_shares(graph, cluster)
    rng = np.random.default_rng(seed)
    actions = np.concatenate([np.zeros((1, cluster.size)), rng.normal(0.0, spread, (samples - 1, cluster.size))])
    seen: dict[tuple[tuple[int, int], ...], tuple[float, int]] = {}
    rows = []
    for a in sorted(alphas, reverse=True):
        part = tuple(tuple(p) for p in lcpss_partition(graph, cluster.size, alpha=a))
        if part not in seen:
            cuts = share_cuts(actions, prior, [graph.units[last].height for _, last in part])
            lat = sim.score(list(part), cuts)
            seen[part] = (float(lat.min()), int(lat.argmin()))
        rows.append((float(a), part, seen[part][0]))
    a, part, lat = min(rows, key=lambda r: (r[2], -r[0]))
    centre = prior * np.exp(SHARE_RANGE * np.clip(actions[seen[part][1]], -1.0, 1.0))
    return PilotResult(a, [tuple(p) for p in part], lat, tuple(rows), centre)
