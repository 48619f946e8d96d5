"""The share action: one weight per device around a capability prior (ours, not DE's Eq. 9).

Why another action: with Eq. 9 the actor's N-1 outputs are cut positions, so a fresh actor
(outputs near 0) puts every cut near the middle row: half the rows on the first device, half on
the last, nothing on the others. At 4 devices DDPG recovers from that start; at 16 (DE Table III)
it rarely reaches even MoDNN's proportional split within the paper's 4000 episodes, and reaching
Offload (every cut at one edge) is a corner few explorations hit. Here the actor's N outputs
a_i in [-1, 1] scale a prior weight instead:

    w_i = c_i * exp(range * a_i),   rows of a volume = largest remainder of H * w / sum(w)

with c_i the device's computing capability from its profile (MoDNN's single number per device,
:func:`splitgym.agents.planners.linear.capability`). So a = 0 is the capability-proportional
split, every split is still reachable (``range`` = 4 lets a device's weight move by e^8 ~ 3000x
between the bounds, enough to empty it at any height here), and the state, reward, partition
and DDPG of DistrEdge are unchanged. The same vector ``a`` may be decoded for every volume of a
partition at once (the pilot of :mod:`splitgym.agents.partition_pilot` does).
"""

from __future__ import annotations

import numpy as np

__all__ = ["share_cuts", "SHARE_RANGE"]

SHARE_RANGE = 4.0


def share_cuts(actions: np.ndarray, caps: np.ndarray, heights: np.ndarray | list[int],
               share_range: float = SHARE_RANGE) -> np.ndarray:
    """Cut points of a batch of share actions.

    Args:
        actions: (B, N) values in [-1, 1] (clipped).
        caps: (N,) positive prior weights.
        heights: (V,) output rows of each volume's last unit.

    Returns:
        (B, V, N+1) integer cut points; rows per device by largest remainder (Hamilton's method,
        ties to the first device), so shares that are equal give the equal split.
    """
    a = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
    logw = np.log(np.asarray(caps, dtype=np.float64))[None] + share_range * a
    w = np.exp(logw - logw.max(axis=1, keepdims=True))
    share = w / w.sum(axis=1, keepdims=True)  # (B, N)
    H = np.asarray(heights, dtype=np.int64)
    exact = share[:, None, :] * H[None, :, None]  # (B, V, N)
    rows = np.floor(exact).astype(np.int64)
    left = H[None, :] - rows.sum(axis=2)  # (B, V)
    order = np.argsort(-(exact - rows), axis=2, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(order.shape[2])[None, None], axis=2)
    rows += rank < left[..., None]
    zero = np.zeros(rows.shape[:2] + (1,), dtype=np.int64)
    return np.concatenate([zero, np.cumsum(rows, axis=2)], axis=2)
