"""Pick the partition per environment by a pilot on the cost model (ours, beyond DistrEdge).

Why: LC-PSS sees only layer configurations, so one a gives one partition for every cluster, yet
DistrEdge's own a sweep (DE Fig. 9) and ours (``distredge_tables alpha``) show the best a depends on
the devices and links: 0.75 is best on DB @ 300 Mbps, 0.25-0.5 on four Nanos, and a partition that
fuses too much bounds every split the agent can find (on Nanos NC the exhaustive optimum on the
a = 0.75 partition is 20% slower than DeeperThings). The pilot keeps LC-PSS as the generator of
candidates and lets the cluster choose among them:

1. run LC-PSS for every a in ``alphas`` (default 0, 0.25, 0.5, 0.75, 1); keep the distinct
   partitions;
2. price each on the simulator with the same ``samples`` share decisions
   (:func:`~splitgym.costmodels.volumes.share_actions.share_cuts`: a prior split plus Gaussian perturbations
   of it, the same vector for every volume; common random numbers, so partitions are compared on
   equal terms);
3. keep the partition whose best decision is fastest (ties: the larger a, i.e. fewer volumes),
   and that decision: :attr:`PilotResult.centre` is the prior re-weighted so that the share action
   a = 0 decodes to it, the warm start of the env's ``action="shares"`` with this partition.

That is ``partition="lcpss-pilot"``. ``partition="pilot-search"`` (:data:`SEARCH`) widens it in
three ways, because on 16 devices (LB) AOFL's three fused volumes beat every LC-PSS candidate:

* a second seed, the linear model's brute-force optimum partition (AOFL's search,
  :func:`~splitgym.costmodels.volumes.partition_search.search_partitions`, ~30 ms): cluster-aware where LC-PSS
  is not;
* a second prior, ``volume``: each volume's own linear-ratio rows (AOFL's split) next to the
  whole model's one ratio (``whole``); every partition is priced under both;
* a local search from the best seed: toggle one volume boundary (merge two volumes or split one)
  and move while the best sampled decision improves, at most ``max_moves`` moves.

So the search's start is never slower than AOFL's plan (sample 0 is a = 0: AOFL's partition and
split, up to the 5% floor of the prior) nor than the LC-PSS pilot's. The best of a few hundred
random splits is a cheap stand-in for what the agent will reach on a partition; it costs one
batched simulation per candidate (tens of ms for VGG-16 on 16 devices; the search prices 20-60).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.volumes.lcpss import lcpss_partition
from splitgym.costmodels.volumes.linear_model import LinearModel, water_fill
from splitgym.costmodels.volumes.partition_search import price_volumes, search_partitions
from splitgym.costmodels.volumes.partitions import Partition, from_starts
from splitgym.costmodels.volumes.share_actions import (
    PRIOR_FLOOR,
    SHARE_RANGE,
    prior_shares,
    share_cuts,
)
from splitgym.costmodels.volumes.volume_simulator import Simulator

__all__ = ["PilotResult", "pilot_partition", "ALPHAS", "PRIORS", "SEARCH", "PILOTS"]

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
PRIORS = ("whole", "volume")
SEARCH: dict[str, Any] = {"linear_seed": True, "priors": PRIORS, "max_moves": 20}
PILOTS: dict[str, dict[str, Any]] = {"lcpss-pilot": {}, "pilot-search": SEARCH}  # scenario partition names

Starts = tuple[int, ...]


@dataclass(frozen=True)
class PilotResult:
    alpha: float | None  # the LC-PSS a of the seed the choice came from (None: the linear seed)
    partition: Partition
    latency: float  # best sampled decision on it (s)
    candidates: tuple[tuple[float, tuple[tuple[int, int], ...], float], ...]  # LC-PSS (a, partition, latency)
    centre: np.ndarray  # (V, N) share weights per volume whose a = 0 is that best decision
    prior: str = "whole"  # which prior that decision perturbs
    source: str = "lcpss"  # the seed: "lcpss" or "linear"
    moves: int = 0  # boundary toggles the local search made from the seed
    priced: int = 0  # distinct partitions priced


class _Pricer:
    """Best sampled share decision per (partition, prior), cached: the pilot's one cost."""

    def __init__(
        self, graph: ModelGraph, cluster: Cluster, priors: tuple[str, ...], samples: int, spread: float, seed: int
    ) -> None:
        unknown = [p for p in priors if p not in PRIORS]
        if not priors or unknown:
            raise ValueError(f"priors: each must be one of {PRIORS}, got {list(priors)}")
        self.graph, self.cluster, self.priors = graph, cluster, priors
        self.sim = Simulator(graph, cluster)
        self.whole = prior_shares(graph, cluster)
        self.linear = LinearModel.build(graph, cluster) if "volume" in priors else None
        rng = np.random.default_rng(seed)
        self.actions = np.concatenate(
            [np.zeros((1, cluster.size)), rng.normal(0.0, spread, (samples - 1, cluster.size))]
        )
        self.cache: dict[Starts, tuple[float, str, np.ndarray]] = {}

    def volume_prior(self, part: Partition) -> np.ndarray:
        """(V, N): each volume's real-valued linear-ratio rows, floored like the whole prior."""
        out = []
        for first, last in part:
            h = self.graph.units[last].height
            rows, _ = water_fill(*self.linear.coefficients(first, last), h)
            out.append(np.maximum(rows, PRIOR_FLOOR * h / self.cluster.size))
        return np.stack(out)

    def __call__(self, starts: Starts) -> tuple[float, str, np.ndarray]:
        """(best latency, its prior, its (V, N) centre) of the partition starting at ``starts``."""
        if starts not in self.cache:
            part = from_starts(list(starts), self.graph.num_units)
            heights = [self.graph.units[last].height for _, last in part]
            best: tuple[float, str, np.ndarray] | None = None
            for kind in self.priors:
                prior = (
                    np.broadcast_to(self.whole, (len(part), self.cluster.size))
                    if kind == "whole"
                    else self.volume_prior(part)
                )
                lat = self.sim.score(part, share_cuts(self.actions, prior, heights))
                k = int(lat.argmin())
                if best is None or lat[k] < best[0]:
                    a = np.clip(self.actions[k], -1.0, 1.0)
                    best = (float(lat[k]), kind, prior * np.exp(SHARE_RANGE * a)[None, :])
            self.cache[starts] = best
        return self.cache[starts]


def _linear_seed(graph: ModelGraph, cluster: Cluster) -> Starts:
    """The partition AOFL's brute force picks under the linear model."""
    U = graph.num_units
    tau, _ = price_volumes(LinearModel.build(graph, cluster), U)
    mask, _, _ = search_partitions(tau)
    return tuple([0] + [i for i in range(1, U) if mask >> (i - 1) & 1])


def pilot_partition(
    graph: ModelGraph,
    cluster: Cluster,
    alphas: tuple[float, ...] = ALPHAS,
    samples: int = 256,
    spread: float = 0.5,
    seed: int = 0,
    linear_seed: bool = False,
    priors: tuple[str, ...] = ("whole",),
    max_moves: int = 0,
    lcpss_samples: int = 100,
    lcpss_seed: int = 0,
) -> PilotResult:
    """The fastest partition (by its best sampled share decision) among the LC-PSS partitions over
    ``alphas`` and, with ``linear_seed``, the linear model's optimum; then up to ``max_moves``
    improving boundary toggles from it. The defaults are ``lcpss-pilot``; :data:`SEARCH` the rest.
    ``lcpss_samples`` (|R_s|) and ``lcpss_seed``: LC-PSS's own random split decisions, per a."""
    if not alphas:
        raise ValueError("alphas: at least one value is needed")
    if samples < 1:
        raise ValueError(f"samples: must be >= 1, got {samples}")
    if max_moves < 0:
        raise ValueError(f"max_moves: must be >= 0, got {max_moves}")
    price = _Pricer(graph, cluster, tuple(priors), samples, spread, seed)
    U = graph.num_units
    rows = []
    seeds: list[tuple[float, float, str, Starts]] = []  # (latency, -a, source, starts)
    for a in sorted(alphas, reverse=True):
        part = tuple(
            tuple(p) for p in lcpss_partition(graph, cluster.size, alpha=a, samples=lcpss_samples, seed=lcpss_seed)
        )
        starts = tuple(f for f, _ in part)
        rows.append((float(a), part, price(starts)[0]))
        seeds.append((price(starts)[0], -float(a), "lcpss", starts))
    if linear_seed:
        starts = _linear_seed(graph, cluster)
        seeds.append((price(starts)[0], 1.0, "linear", starts))  # ties: LC-PSS first
    lat, neg_a, source, cur = min(seeds)
    moves = 0
    while moves < max_moves:
        neighbours = [tuple(sorted(set(cur) ^ {i})) for i in range(1, U)]
        best = min(neighbours, key=lambda s: price(s)[0])
        if price(best)[0] >= lat:
            break
        cur, lat, moves = best, price(best)[0], moves + 1
    _, prior, centre = price(cur)
    alpha = None if source == "linear" else -neg_a
    return PilotResult(
        alpha, from_starts(list(cur), U), lat, tuple(rows), centre, prior, source, moves, len(price.cache)
    )
