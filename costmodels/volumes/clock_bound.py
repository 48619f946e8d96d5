"""When a prefix's latest device clock bounds a plan's latency: the row-coverage condition.

Why: in :meth:`Simulator.advance` a device's clock only moves forward (a part starts at
``max(own clock, arrivals)`` and adds its compute; an empty part keeps its clock), and if every
output row of a volume is read by some part of the next one, each busy device's finish reaches a
part of the next volume before it can start; the last volume's rows all go to the head (or the
requester). So, volume boundary by volume boundary, the end-to-end latency is at least the latest
device clock after any prefix, as long as every later boundary is covered. A 1x1 stride-2 layer
alone skips rows, so coverage is checked, not assumed (the exact search's ``bound_holds`` is the
same test over a whole partition).
"""

from __future__ import annotations

import numpy as np

from splitgym.costmodels.volumes.volume_simulator import Simulator

__all__ = ["rows_covered"]


def rows_covered(sim: Simulator, first: int, last: int) -> bool:
    """True when every output row of unit ``first - 1`` is read by some output row of the volume
    ``first..last`` (one part per output row of ``last``); True for ``first == 0`` (the input)."""
    if first == 0:
        return True
    h_out = int(sim.heights[last])
    rows = np.arange(h_out, dtype=np.int64)
    lo, hi = sim.split.ranges(first, last, np.stack([rows, rows + 1], axis=1))[-1]
    h_in = int(sim.heights[first - 1])
    covered = np.zeros(h_in + 1, dtype=np.int64)
    np.add.at(covered, lo[:, 0], 1)
    np.add.at(covered, hi[:, 0], -1)
    return bool((np.cumsum(covered)[:h_in] > 0).all())
