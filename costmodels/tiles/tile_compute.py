"""NPTP's compute model of Eqs. 1-3 as an option: a tile's time is its ops over the clock.

The paper (NP Eqs. 1-3, PAPERS-AUDIT C.2 item 2) counts the operations of tile ``k`` at layer
``l`` (Eq. 1: ``C_in C_out K_w K_h H_out W_out`` for a convolution) and divides their sum by the
device's clock frequency ``f_d`` (Eq. 3). A clock alone gives no time (a GPU retires many
operations per cycle), so here ``t = ops / (f_d * ops_per_cycle_d)`` with both constants from the
board's published specification (:mod:`splitgym.costmodels.boards`, sources written there):

* GPU boards (Jetsons): ``f_d`` the boost clock, ``ops_per_cycle_d = SMs x FP32 FLOP/SM/cycle``
  (the tile cost model runs fp32): Nano 0.92 GHz x 256, TX2 1.3 GHz x 512, Xavier 1.377 GHz x
  1024 FLOP/cycle;
* CPU boards (Raspberry Pis): the table below, ``cores x FLOP/cycle/core`` from the same sources.

Operations are the graph's FLOP count of the unit (a multiply-add is 2, so Eq. 1 x 2 for a
convolution; pools count one per window element), shared by output area: a tile owning ``r x c``
of unit ``l``'s ``H_l x W_l`` output does ``flops_l * r * c / (H_l W_l)``. This is the peak rate:
no efficiency factor, no memory-bound layers (the profile mode, the default, has both).
"""

from __future__ import annotations

import numpy as np

from splitgym.costmodels.boards import BOARDS
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph

__all__ = ["COMPUTE_MODES", "clock_spec", "ops_coefficients", "OpsRate"]

COMPUTE_MODES = ("profile", "ops")

#: CPU boards: (clock GHz, FLOP per cycle over all cores), as boards.py's sources state.
CPU_CLOCKS: dict[str, tuple[float, float]] = {
    "pi3": (1.2, 4 * 8.0),
    "pi3b+": (1.4, 4 * 8.0),
    "pi4": (1.5, 4 * 8.0),
    "pi5": (2.4, 4 * 16.0),
}


def clock_spec(board: str) -> tuple[float, float]:
    """``(clock in GHz, FLOP per cycle)`` of a board from its published figures."""
    if board in CPU_CLOCKS:
        return CPU_CLOCKS[board]
    b = BOARDS.get(board)
    if b is None or b.boost_clock_ghz is None or b.sm_count is None or b.fp32_flop_per_sm_cycle is None:
        known = sorted([*CPU_CLOCKS, *(k for k, v in BOARDS.items() if v.boost_clock_ghz is not None)])
        raise ConfigError(
            f"compute: board {board!r} has no published clock for compute=ops (known: {', '.join(known)})"
        )
    return b.boost_clock_ghz, float(b.sm_count * b.fp32_flop_per_sm_cycle)


def ops_coefficients(graph: ModelGraph, cluster: Cluster) -> np.ndarray:
    """(N, U) seconds per output element of each unit on each device (Eq. 3 over Eq. 1)."""
    per_elem = np.array([u.flops / (u.out_shape[1] * u.out_shape[2]) for u in graph.units], dtype=float)
    rate = np.array([np.prod(clock_spec(d.board)) * 1e9 for d in cluster.devices], dtype=float)
    return per_elem[None, :] / rate[:, None]


class OpsRate:
    """One unit on one device under ``compute="ops"``: ``elems * coef`` seconds."""

    def __init__(self, coef: float) -> None:
        self.coef = coef

    def __call__(self, elems: int) -> float:
        return float(elems * self.coef) if elems > 0 else 0.0
