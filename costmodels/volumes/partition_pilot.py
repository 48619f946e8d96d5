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
batched simulation per candidate (tens of ms for VGG-16 on 16 devices; the search prices 40-250),
less where candidates share volumes with the partition the search stands on (:class:`_Pricer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.volumes.clock_bound import rows_covered
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
    priced: int = 0  # distinct partitions priced (or ruled out by the clock bound: :class:`_Pricer`)


Span = tuple[int, int]


@dataclass
class _Chain:
    """One partition's volumes advanced for every sample: the state ``T`` (B, N) after each volume
    and, per (previous volume, volume), what that volume costs whenever it starts: which parts
    are non-empty, their compute, which sources send bytes and the transfer seconds."""

    part: Partition
    T: list[np.ndarray]
    steps: dict[tuple[Span | None, Span], tuple[np.ndarray, np.ndarray, np.ndarray]]


class _Pricer:
    """Best sampled share decision per (partition, prior), cached: the pilot's one cost.

    Pricing a partition advances ``samples`` decisions volume by volume through the batched
    simulator. Three things make it cheaper without changing a number:

    * a volume's cut points depend only on the volume and its prior, so they are computed once
      per volume (:meth:`volume_cuts`; :func:`share_cuts` treats each volume alone);
    * the local search's neighbours toggle one boundary of the current partition (the anchor,
      :meth:`anchor`), so they share its volumes up to that boundary: its state there is reused;
    * after the boundary they share its volumes again, each after the same previous volume, so
      with the same parts, compute and transfers; only when they start differs. On a network
      whose links are not shared, a transfer's seconds do not depend on when it starts, so such a
      volume is replayed from the anchor's (:func:`_replay`: the simulator's last two lines,
      a max and a sum, the same float operations) instead of advanced.

    And one thing skips work: asked with ``below`` (the latency to beat), a partition is given up
    as soon as the latest device clock after a prefix of its volumes is at least ``below`` for
    every sample (:mod:`clock_bound`: that clock bounds the latency from below); it cannot win,
    so its exact price is never needed.
    """

    def __init__(
        self,
        graph: ModelGraph,
        cluster: Cluster,
        priors: tuple[str, ...],
        samples: int,
        spread: float,
        seed: int,
        clock_bound: bool = True,
    ) -> None:
        unknown = [p for p in priors if p not in PRIORS]
        if not priors or unknown:
            raise ValueError(f"priors: each must be one of {PRIORS}, got {list(priors)}")
        self.graph, self.cluster, self.priors, self.clock_bound = graph, cluster, priors, clock_bound
        self.sim = Simulator(graph, cluster)
        self.whole = prior_shares(graph, cluster)
        rng = np.random.default_rng(seed)
        self.actions = np.concatenate(
            [np.zeros((1, cluster.size)), rng.normal(0.0, spread, (samples - 1, cluster.size))]
        )
        self.cache: dict[Starts, tuple[float, str, np.ndarray]] = {}
        self.ruled_out: dict[Starts, float] = {}  # partitions whose best is known to be >= the value
        self._covered: dict[Span, bool] = {}
        self._cuts: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._anchor: dict[str, _Chain] = {}

    @cached_property
    def linear(self) -> LinearModel:
        """The linear model, built once for the volume prior and the linear seed."""
        profiles = {d.spec.key(): p for d, p in zip(self.cluster.devices, self.sim.profiles, strict=True)}
        return LinearModel.build(self.graph, self.cluster, profiles)  # the simulator's, not derived again

    def volume_cuts(self, kind: str, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """(prior row (N,), cut points (B, N+1)) of volume ``first..last`` under prior ``kind``."""
        key = (kind, first, last) if kind == "volume" else (kind, 0, last)  # the whole prior: one row
        if key not in self._cuts:
            h = self.graph.units[last].height
            if kind == "whole":
                row = self.whole
            else:
                rows, _ = water_fill(*self.linear.coefficients(first, last), h)
                row = np.maximum(rows, PRIOR_FLOOR * h / self.cluster.size)
            self._cuts[key] = (row, share_cuts(self.actions, row[None], [h])[:, 0])
        return self._cuts[key]

    def _bounded_from(self, part: Partition) -> list[bool]:
        """Per volume v: whether the latest clock before volume v bounds the latency (every
        boundary from v on covered, :func:`rows_covered`)."""
        ok, out = True, [False] * len(part)
        for v in range(len(part) - 1, 0, -1):
            if part[v] not in self._covered:
                self._covered[part[v]] = rows_covered(self.sim, *part[v])
            ok = ok and self._covered[part[v]]
            out[v] = ok
        return out

    def _run(
        self, part: Partition, kind: str, keep: bool, below: float = np.inf
    ) -> tuple[np.ndarray, np.ndarray, _Chain]:
        """T (b, N) after the last volume of ``part`` and the samples it is for (b indices), reusing
        the anchor where it can; with ``keep``, from scratch, recording every volume (the next
        anchor). With ``below``, a sample is dropped once the latest device clock after a prefix
        is >= ``below`` (where :meth:`_bounded_from` says that clock bounds its latency), checked
        before each volume that must be advanced."""
        old = None if keep else self._anchor.get(kind)
        n = 0
        while old is not None and n < min(len(part), len(old.part)) - 1 and part[n] == old.part[n]:
            n += 1  # the last volume is never reused: finish needs its T alone
        chain = _Chain(part, list(old.T[:n]) if old else [], {})
        T = chain.T[-1] if n else np.zeros((len(self.actions), self.cluster.size))
        bounded = self._bounded_from(part) if below < np.inf else [False] * len(part)
        idx = np.arange(len(self.actions))
        for v in range(n, len(part)):
            key = (part[v - 1] if v else None, part[v])
            step = old.steps.get(key) if old is not None and v and not self.sim.shared else None
            if step is not None:
                T = _replay(step, T, idx)
            else:  # an advance: the bound first (a replay costs less than the check)
                if bounded[v]:
                    live = T.max(axis=1) < below
                    if not live.all():
                        T, idx = T[live], idx[live]
                        if not len(idx):
                            return T, idx, chain
                rows = slice(None) if len(idx) == len(self.actions) else idx  # no copy while all are in
                cuts = self.volume_cuts(kind, *part[v])[1][rows]
                prev = self.volume_cuts(kind, *part[v - 1])[1][rows] if v else None
                st = self.sim.advance(part[v][0], part[v][1], cuts, T, prev)
                T = st.T
                if keep:  # transfer seconds by source first, -inf where nothing is sent (see _replay)
                    secs = np.where(st.recv_bytes > 0, st.recv_seconds, -np.inf).transpose(2, 0, 1).copy()
                    chain.steps[key] = (cuts[:, 1:] > cuts[:, :-1], st.compute, secs)
            chain.T.append(T)
        return T, idx, chain

    def anchor(self, starts: Starts) -> None:
        """Keep every volume of the partition at ``starts`` for the partitions priced next."""
        part = from_starts(list(starts), self.graph.num_units)
        self._anchor = {kind: self._run(part, kind, keep=True)[2] for kind in self.priors}

    def _latencies(self, part: Partition, kind: str, below: float = np.inf) -> np.ndarray:
        """(B,) end-to-end latency of every sampled decision on ``part`` under prior ``kind``;
        inf for the samples the clock bound shows to be >= ``below``."""
        if len(self.actions) == 1:  # the simulator's one-decision path (plain floats): as score runs it
            cuts = np.stack([self.volume_cuts(kind, f, last)[1] for f, last in part], axis=1)
            return self.sim.score(part, cuts)
        T, idx, _ = self._run(part, kind, keep=False, below=below)
        lat = np.full(len(self.actions), np.inf)
        if len(idx):
            lat[idx] = self.sim.finish(self.volume_cuts(kind, *part[-1])[1][idx], T)[0]
        return lat

    def __call__(self, starts: Starts, below: float = np.inf) -> tuple[float, str, np.ndarray]:
        """(best latency, its prior, its (V, N) centre) of the partition starting at ``starts``;
        with ``below``, (inf, "", empty) where that best is known to be >= ``below``."""
        if starts in self.cache:
            return self.cache[starts]
        below = below if self.clock_bound else np.inf
        if starts in self.ruled_out and self.ruled_out[starts] <= below:
            return np.inf, "", np.empty(0)
        part = from_starts(list(starts), self.graph.num_units)
        best: tuple[float, str, np.ndarray] | None = None
        exact = True  # False once a prior is given up against ``below`` itself
        for kind in self.priors:
            cap = below if best is None else min(below, best[0])  # a prior >= the best so far loses
            lat = self._latencies(part, kind, cap)
            k = int(lat.argmin())  # the first minimum: a dropped sample (inf) is >= cap > it
            if lat[k] >= cap:  # no sample beats cap (some may be dropped): this prior loses
                exact = exact and cap < below
                continue
            if best is None or lat[k] < best[0]:
                a = np.clip(self.actions[k], -1.0, 1.0)
                prior = np.stack([self.volume_cuts(kind, f, last)[0] for f, last in part])
                best = (float(lat[k]), kind, prior * np.exp(SHARE_RANGE * a)[None, :])
        if best is None or (not exact and best[0] >= below):
            self.ruled_out[starts] = below
            return np.inf, "", np.empty(0)
        self.cache[starts] = best
        return best

    @property
    def considered(self) -> int:
        """Distinct partitions priced or ruled out."""
        return len(self.cache.keys() | self.ruled_out.keys())


def _replay(step: tuple[np.ndarray, np.ndarray, np.ndarray], T_prev: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """:meth:`Simulator.advance`'s state update for a volume whose parts, compute and transfer
    seconds are known (not shared links): each device starts once its inputs arrived. ``secs`` is
    (M, B, N), source first so that the max over sources is an elementwise max of M arrays
    (numpy reduces a short last axis slowly), -inf where a source sends nothing: the simulator's
    ``where(sends, T + secs, 0).max()`` is the same max once taken with ``T_prev`` (>= 0).
    ``idx``: the samples ``T_prev`` is for."""
    nonempty, compute, secs = step
    if len(idx) < len(nonempty):  # the samples still in the race (idx: their rows)
        nonempty, compute, secs = nonempty[idx], compute[idx], secs[:, idx]
    arrival = (T_prev.T[:, :, None] + secs).max(axis=0)
    return np.where(nonempty, np.maximum(T_prev, arrival) + compute, T_prev)


def _linear_seed(graph: ModelGraph, model: LinearModel) -> Starts:
    """The partition AOFL's brute force picks under the linear model."""
    U = graph.num_units
    tau, _ = price_volumes(model, U)
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
    clock_bound: bool = True,
) -> PilotResult:
    """The fastest partition (by its best sampled share decision) among the LC-PSS partitions over
    ``alphas`` and, with ``linear_seed``, the linear model's optimum; then up to ``max_moves``
    improving boundary toggles from it. The defaults are ``lcpss-pilot``; :data:`SEARCH` the rest.
    ``lcpss_samples`` (|R_s|) and ``lcpss_seed``: LC-PSS's own random split decisions, per a.
    ``clock_bound=False`` prices every neighbour in full: the same choice, slower (the benchmark's
    anchor, ``make bench``'s ``pilot`` rows)."""
    if not alphas:
        raise ValueError("alphas: at least one value is needed")
    if samples < 1:
        raise ValueError(f"samples: must be >= 1, got {samples}")
    if max_moves < 0:
        raise ValueError(f"max_moves: must be >= 0, got {max_moves}")
    price = _Pricer(graph, cluster, tuple(priors), samples, spread, seed, clock_bound)
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
        starts = _linear_seed(graph, price.linear)
        seeds.append((price(starts)[0], 1.0, "linear", starts))  # ties: LC-PSS first
    lat, neg_a, source, cur = min(seeds)
    moves = 0
    while moves < max_moves:
        price.anchor(cur)  # its neighbours share its volumes up to the toggled boundary
        best, best_lat = None, lat  # the first neighbour strictly below lat and every one before it
        for s in (tuple(sorted(set(cur) ^ {i})) for i in range(1, U)):
            got = price(s, below=best_lat)[0]
            if got < best_lat:
                best, best_lat = s, got
        if best is None:
            break
        cur, lat, moves = best, best_lat, moves + 1
    _, prior, centre = price(cur)
    alpha = None if source == "linear" else -neg_a
    return PilotResult(
        alpha, from_starts(list(cur), U), lat, tuple(rows), centre, prior, source, moves, price.considered
    )
