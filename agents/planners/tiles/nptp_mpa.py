"""NPTP's Multilevel Partition Algorithm (MPA, NP Section III-D, Fig. 3).

The paper: step 1 cuts sub-image 1 off the image along the height or the width for device A;
step 2 cuts sub-image 2 off the remainder for device B; ... until the whole image is assigned (a
non-penetrative layout). Each scheme is scored with Eqs. 3 + 6 (here :mod:`costmodels.tiles`);
from the second scheme on, each is *rewarded or penalised against the last one*; after the set
iterations of a round, the scheme with the highest reward is kept. Algorithm 1 and every number
(iterations, rounds, reward size, how schemes are generated, the device order) are lost
(PAPERS-AUDIT B.2 item 22), so all of the following is our design:

* **Scheme**: a device order and, per step ``k < N-1``, an axis (height/width), a side (the piece
  is taken from the top/left or the bottom/right of the remainder) and a fraction of the
  remainder's extent (:func:`tile_layouts.fraction_cuts`); the last device gets the remainder.
* **Start**: round 0 starts from strips sized in proportion to the devices' speed (the
  capability-proportional split CoEdge would make), each held under 90% of its activation-share
  cap; later rounds start from a random scheme.
* **Generation**: each iteration changes the current scheme by one *move* drawn with adaptive
  weights: nudge one fraction (Gaussian, step ``sigma``), redraw one fraction, flip one axis, flip
  one side, swap two devices in the order.
* **Reward / penalty**: a new scheme whose latency is lower than the last accepted scheme's is
  rewarded (+1): it becomes the current scheme, its move's weight grows by ``eta`` and ``sigma``
  grows by 10%; otherwise it is penalised (-1): discarded, its move's weight shrinks by ``eta``
  (floor 0.05) and ``sigma`` shrinks by 5% (floor 0.005). Schemes over a memory cap rank after
  every feasible one (:attr:`TileScore.key`).
* **Result**: the best scheme over ``rounds x iterations`` evaluations (default 4 x 250).

``seed`` makes the search repeatable; ``meta`` reports the search time, evaluations and latency.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.slicing import Region
from splitgym.costmodels.tiles.tile_cost import TileCostModel, TileScore, cluster_caps, tile_plan
from splitgym.costmodels.tiles.tile_layouts import ROWS, fraction_cuts, multilevel

__all__ = ["plan_nptp_mpa", "Scheme", "scheme_rects", "MOVES", "mpa_search"]

MOVES = ("nudge", "redraw", "axis", "side", "swap")


@dataclass(frozen=True)
class Scheme:
    """One MPA scheme: device order and per step axis, side and fraction of the remainder."""

    order: tuple[int, ...]
    axes: tuple[int, ...]
    sides: tuple[int, ...]
    fracs: tuple[float, ...]


def scheme_rects(s: Scheme, h: int, w: int) -> list[Region]:
    """The layout of a scheme, one rectangle per device (in device index order)."""
    pieces = multilevel(h, w, fraction_cuts(h, w, s.axes, s.sides, s.fracs))
    rects: list[Region] = [Region(0, 0, 0, 0)] * len(s.order)
    for k, d in enumerate(s.order):
        rects[d] = pieces[k]
    return rects


def _proportional(speeds: np.ndarray, limits: np.ndarray | None = None) -> Scheme:
    """Strips by height sized in proportion to speed, fastest first; a device whose activation
    share is capped gets at most 90% of its cap (the rest goes to the others by speed)."""
    n = len(speeds)
    lim = np.full(n, np.inf) if limits is None else 0.9 * np.asarray(limits, dtype=float)
    share = np.zeros(n)
    free = np.ones(n, dtype=bool)
    left = 1.0
    while free.any():  # water-fill: pin capped devices at their limit, share the rest by speed
        s = left * speeds * free / (speeds * free).sum()
        over = free & (s > lim)
        if not over.any() or over.sum() == free.sum():
            share[free] = s[free]
            break
        share[over] = lim[over]
        left -= lim[over].sum()
        free &= ~over
    order = tuple(int(i) for i in np.argsort(-speeds, kind="stable"))
    rem, fracs = 1.0, []
    for d in order[:-1]:
        fracs.append(float(min(1.0, share[d] / rem)) if rem > 0 else 0.0)
        rem -= share[d]
    return Scheme(order, (ROWS,) * (n - 1), (0,) * (n - 1), tuple(fracs))


def _random(rng: np.random.Generator, n: int) -> Scheme:
    k = n - 1
    return Scheme(
        tuple(int(i) for i in rng.permutation(n)),
        tuple(int(a) for a in rng.integers(0, 2, k)),
        tuple(int(a) for a in rng.integers(0, 2, k)),
        tuple(float(f) for f in rng.uniform(0.05, 0.95, k)),
    )


def _move(rng: np.random.Generator, s: Scheme, move: str, sigma: float) -> Scheme:
    k = len(s.fracs)
    if k == 0:
        return s
    i = int(rng.integers(k))
    if move == "nudge":
        f = list(s.fracs)
        f[i] = float(np.clip(f[i] + rng.normal(0.0, sigma), 0.0, 1.0))
        return replace(s, fracs=tuple(f))
    if move == "redraw":
        f = list(s.fracs)
        f[i] = float(rng.uniform(0.0, 1.0))
        return replace(s, fracs=tuple(f))
    if move == "axis":
        a = list(s.axes)
        a[i] = 1 - a[i]
        return replace(s, axes=tuple(a))
    if move == "side":
        a = list(s.sides)
        a[i] = 1 - a[i]
        return replace(s, sides=tuple(a))
    o = list(s.order)
    i, j = rng.choice(len(o), 2, replace=False)
    o[i], o[j] = o[j], o[i]
    return replace(s, order=tuple(o))


def mpa_search(
    model: TileCostModel, rounds: int = 4, iterations: int = 250, seed: int = 0, eta: float = 0.2, sigma: float = 0.1
) -> tuple[TileScore, Scheme, int]:
    """Run MPA on a cost model: the best score, its scheme and the number of evaluations."""
    if rounds < 1 or iterations < 0:
        raise ConfigError(f"rounds/iterations: need rounds >= 1 and iterations >= 0, got {rounds}/{iterations}")
    _, h, w = model.graph.input_shape
    n = model.N
    rng = np.random.default_rng(seed)
    speeds = np.array([1.0 / max(model.full_seconds(d), 1e-12) for d in range(n)])
    limits = np.array([model.caps.share.get(name, np.inf) for name in model.names])
    best: tuple[TileScore, Scheme] | None = None
    evaluations = 0
    for rnd in range(rounds):
        current = _proportional(speeds, limits) if rnd == 0 else _random(rng, n)
        cur = model.score(scheme_rects(current, h, w))
        evaluations += 1
        weights = np.ones(len(MOVES))
        step = sigma
        if best is None or cur.key < best[0].key:
            best = (cur, current)
        for _ in range(iterations if n > 1 else 0):
            m = int(rng.choice(len(MOVES), p=weights / weights.sum()))
            cand = _move(rng, current, MOVES[m], step)
            sc = model.score(scheme_rects(cand, h, w))
            evaluations += 1
            reward = 1.0 if sc.key < cur.key else -1.0  # against the last (accepted) scheme
            weights[m] = max(0.05, weights[m] + eta * reward)
            step = min(0.5, step * 1.1) if reward > 0 else max(0.005, step * 0.95)
            if reward > 0:
                current, cur = cand, sc
                if sc.key < best[0].key:
                    best = (sc, cand)
    assert best is not None
    return best[0], best[1], evaluations


def plan_nptp_mpa(
    graph: ModelGraph,
    cluster: Cluster,
    rounds: int = 4,
    iterations: int = 250,
    seed: int = 0,
    caps: str = "auto",
    profiles: Mapping[str, DeviceProfile] | None = None,
    scatter: bool = False,
    compute: str = "profile",
) -> Plan:
    t0 = time.perf_counter()
    memory = cluster_caps(cluster, caps)
    model = TileCostModel(
        graph, cluster, profiles, memory.mb, activation_share=memory.share, scatter=scatter, compute=compute
    )
    built = time.perf_counter()
    score, scheme, evaluations = mpa_search(model, rounds, iterations, seed)
    done = time.perf_counter()
    return tile_plan(
        "nptp-mpa",
        graph,
        cluster,
        score.rects,
        caps=memory,
        latency_s=score.latency,
        feasible=score.feasible,
        rounds=rounds,
        iterations=iterations,
        seed=seed,
        evaluations=evaluations,
        **model.options(),
        search_s=done - built,
        setup_s=built - t0,
        scheme={
            "order": list(scheme.order),
            "axes": list(scheme.axes),
            "sides": list(scheme.sides),
            "fracs": list(scheme.fracs),
        },
    )
