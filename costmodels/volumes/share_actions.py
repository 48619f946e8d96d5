"""The share action: one weight per device around a prior split (ours, not DE's Eq. 9).

Why another action: with Eq. 9 the actor's N-1 outputs are cut positions, so a fresh actor
(outputs near 0) puts every cut near the middle row: half the rows on the first device, half on
the last, nothing on the others. At 4 devices DDPG recovers from that start; at 16 (DE Table III)
it did not reach AOFL's split within the paper's 4000 episodes here (0.54-0.79x its IPS), and
Offload (every cut at one edge) is a corner few explorations hit. Here the actor's N outputs
a_i in [-1, 1] scale a prior weight instead:

    w_i = p_i * exp(range * a_i),   rows of volume v = largest remainder of H_v * w / sum(w)

The prior p is the classical *linear ratio* (:func:`prior_shares`): the water-filling rows of
the whole model as one fused volume, under one computing capability per device and its link to
the data (:class:`~splitgym.costmodels.volumes.linear_model.LinearModel`, what AOFL and CoEdge split by),
floored at 5% of an equal share so that a device the linear model leaves out can be brought
back. One prior for every volume, not one per volume: per-volume linear ratios switch devices on
and off between volumes, and the re-distribution that causes is what the linear model does not
see (on LB's 16 devices the per-volume prior simulated at 249 ms, the whole-model one at 59 ms,
AOFL 53 ms). So a = 0 is that classical split on the agent's own partition, and DDPG learns the
correction the simulator rewards (non-linear profiles, halos, the gather). ``range`` = 4 lets a
device's weight move by e^8 ~ 3000x between the bounds: every split stays reachable, Offload
included. The state, reward, partition and DDPG of DistrEdge are unchanged.
"""

from __future__ import annotations

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.volumes.linear_model import LinearModel, hamilton_rows, water_fill

__all__ = ["share_cuts", "prior_shares", "SHARE_RANGE", "PRIOR_FLOOR"]

SHARE_RANGE = 4.0
PRIOR_FLOOR = 0.05


def prior_shares(graph: ModelGraph, cluster: Cluster, floor: float = PRIOR_FLOOR) -> np.ndarray:
    """(N,) prior weights: the real-valued linear-ratio rows of the whole model as one volume,
    floored at ``floor`` of an equal share."""
    lin = LinearModel.build(graph, cluster)
    last = graph.num_units - 1
    height = max(graph.units[last].height, 1)
    rows, _ = water_fill(*lin.coefficients(0, last), height)
    return np.maximum(rows, floor * height / cluster.size)


def share_cuts(
    actions: np.ndarray, prior: np.ndarray, heights: np.ndarray | list[int], share_range: float = SHARE_RANGE
) -> np.ndarray:
    """Cut points of a batch of share actions.

    Args:
        actions: (B, N) values in [-1, 1] (clipped).
        prior: (N,) or (V, N) positive prior weights (one row per volume, or one for all).
        heights: (V,) output rows of each volume's last unit.

    Returns:
        (B, V, N+1) integer cut points; rows per device by largest remainder (Hamilton's method,
        ties to the first device), so equal weights give the equal split.
    """
    a = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
    H = np.asarray(heights, dtype=np.int64)
    logp = np.log(np.broadcast_to(np.asarray(prior, dtype=np.float64), (len(H), a.shape[1])))
    logw = logp[None] + share_range * a[:, None, :]  # (B, V, N)
    w = np.exp(logw - logw.max(axis=2, keepdims=True))
    rows = hamilton_rows(w / w.sum(axis=2, keepdims=True) * H[None, :, None])
    zero = np.zeros(rows.shape[:2] + (1,), dtype=np.int64)
    return np.concatenate([zero, np.cumsum(rows, axis=2)], axis=2)
