"""AR-MDI layer allocation: which consecutive units each worker of a ring runs for one source.

AR-MDI (MS Eq. 1, PAPERS-AUDIT C.3 item 3) gives worker n a share of the model's ``W`` parameters
proportional to its speed, ``rho_n = W * (1/g_n) / sum_m (1/g_m)`` with ``g_n`` the per-parameter
computing delay, and rounds it to "a closest integer that is a feasible layer allocation". The
chain for source i starts at i and follows the ring: i, i+1, ..., i+N-1 (mod N); the final output
returns to i.

Choices where the paper is silent (all stated here, used by the simulator, the planner and the
executor alike):

* *layers* are the graph's units; the head (global pooling + classifier, 1.28 M of MobileNetV2's
  3.5 M parameters) is not a separate layer: its weight is counted with the last unit, and it runs
  on whichever worker holds the last unit;
* the weight of a unit is its parameter count (the paper's W); ``weight="flops"`` is offered as
  the alternative that balances compute rather than parameters (MobileNetV2's FLOPs sit in the
  early, parameter-light layers, so the two differ a lot);
* ``g_n`` = (worker n's time for the whole model) / W, so 1/g_n is the worker's speed;
* rounding: the k-th boundary is the unit boundary whose cumulative weight is closest to the
  cumulative target ``rho_0 + ... + rho_k`` (ties: the earlier boundary), clipped so boundaries
  never decrease. A worker may get no unit (an empty stage); the chain then skips it;
* only workers that are alive take part (workers join and leave); the ring order is the workers'
  index order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph

__all__ = ["WEIGHTS", "unit_weights", "ring_order", "allocate", "shares"]

WEIGHTS = ("params", "flops")


def unit_weights(graph: ModelGraph, weight: str = "params") -> np.ndarray:
    """Per-unit weight (parameters or FLOPs), the head's added to the last unit."""
    if weight not in WEIGHTS:
        raise ConfigError(f"weight: must be one of {', '.join(WEIGHTS)}, got {weight!r}")
    w = np.array([getattr(u, weight) for u in graph.units], dtype=float)
    w[-1] += float(getattr(graph.head, weight)) if graph.head is not None else 0.0
    if not w.sum() > 0:
        raise ConfigError(f"weight: model {graph.name} has no {weight} to allocate by")
    return w


def ring_order(source: int, alive: Sequence[bool]) -> list[int]:
    """The alive workers in ring order starting at ``source``."""
    n = len(alive)
    if not 0 <= source < n:
        raise ConfigError(f"source: worker index {source} outside 0..{n - 1}")
    return [(source + k) % n for k in range(n) if alive[(source + k) % n]]


def shares(speeds: Sequence[float]) -> np.ndarray:
    """AR-MDI's rho / W: each worker's fraction, proportional to its speed 1/g_n."""
    s = np.asarray(speeds, dtype=float)
    if s.size == 0 or not np.all(s > 0) or not np.all(np.isfinite(s)):
        raise ConfigError(f"speeds: need positive finite speeds (1/g), got {s.tolist()}")
    return s / s.sum()


def allocate(weights: np.ndarray, speeds: Sequence[float]) -> list[tuple[int, int]]:
    """Half-open unit ranges ``[start, end)`` for the workers of one chain, in chain order.

    ``speeds[k]`` is 1/g of the k-th worker of the chain. The ranges cover ``0..len(weights)``
    in order; a range with ``start == end`` is an empty stage.
    """
    w = np.asarray(weights, dtype=float)
    cum = np.concatenate([[0.0], np.cumsum(w)])  # cumulative weight at each unit boundary
    targets = np.cumsum(shares(speeds))[:-1] * cum[-1]
    bounds = [0]
    for t in targets:
        b = int(np.argmin(np.abs(cum - t)))  # closest boundary; argmin takes the earlier on ties
        bounds.append(max(b, bounds[-1]))
    bounds.append(len(w))
    return [(a, b) for a, b in zip(bounds, bounds[1:])]
