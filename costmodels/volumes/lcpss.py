"""LC-PSS: DistrEdge's layer-configuration-based partition scheme search (Algorithm 1).

The partitioner sees only the layer configurations and random split decisions, never a device
speed or a bandwidth (DE L99, L108). It scores a partition by

    C_p = a * T / T_ref + (1 - a) * O / O_ref                                   (DE Eq. 3)

averaged over |R_s| random split decisions, where

* **T** = bytes moved between consecutive volumes per image (every slice a part needs from
  another part of the previous volume; PAPERS-AUDIT B.1 item 3g), so the no-partition scheme
  moves nothing and each added location adds traffic;
* **O** = operations of every split-part, halo recomputation included (the row maths);
* **normalisation** (the paper gives none; PAPERS-AUDIT B.1 item 2): T_ref is T of the
  layer-by-layer scheme (the most traffic a partition can make) and O_ref is O of the
  no-partition scheme (the most recomputation), both under the same random decisions, so both
  terms lie in [0, 1] and ``a`` trades a fraction of the worst traffic against a fraction of the
  worst operation count;
* **random split decisions**: each draws N-1 sorted uniform fractions in [0, 1] and applies them
  to every volume (``round(f * H_l)``); all candidates are scored on the same draws (common random
  numbers), so comparisons between partitions are not noise.

The search (the audit's reconstruction of Alg. 1's lost lines 4-9): start from the locations
{first unit, last unit} (so the last unit is a volume of its own, as the paper's literal
initialisation gives); each loop, inside every current volume, find the location whose addition
gives the lowest score, and add it if it lowers the score of the current scheme strictly; the loop
adds at most one location per volume, all found against the same current scheme; stop when a
loop adds nothing. Everything is vectorised over the |R_s| decisions with :class:`SplitMaths`.

A volume's bytes received and operations depend only on its ``(first, last)`` (its input comes from
the volume ending at ``first - 1``, split by the same fractions), so each is computed once and kept
for every later candidate and every ``a`` (the pilot runs five): the same sums in the same order,
about 5x less row maths on ResNet-152.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.traffic import SplitMaths
from splitgym.costmodels.volumes.partitions import Partition, from_starts

__all__ = ["LCPSS", "lcpss_partition"]


@dataclass
class LCPSS:
    """Algorithm 1 for one model and device count."""

    graph: ModelGraph
    n_devices: int
    alpha: float = 0.75
    samples: int = 100
    seed: int = 0
    history: list[tuple[list[int], float]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha: must lie in [0, 1], got {self.alpha}")
        if self.samples < 1 or self.n_devices < 1:
            raise ValueError(f"samples/n_devices: must be >= 1, got {self.samples}/{self.n_devices}")
        self.maths = SplitMaths(self.graph)
        rng = np.random.default_rng(self.seed)
        f = np.sort(rng.random((self.samples, self.n_devices - 1)), axis=1)
        self.fractions = np.concatenate([np.zeros((self.samples, 1)), f, np.ones((self.samples, 1))], axis=1)
        self._terms = _volume_terms(self.graph, self.n_devices, self.samples, self.seed)
        U = self.graph.num_units
        self.T_ref = self.traffic_and_ops([(u, u) for u in range(U)])[0]
        self.O_ref = self.traffic_and_ops([(0, U - 1)])[1]

    def cuts(self, height: int) -> np.ndarray:
        return np.round(self.fractions * height).astype(np.int64)

    def traffic_and_ops(self, partition: Partition) -> tuple[np.ndarray, np.ndarray]:
        """(samples,) bytes moved and operations of a partition under the random decisions."""
        T = np.zeros(self.samples)
        O = np.zeros(self.samples)
        for first, last in partition:
            t, o = self._volume(first, last)
            if first > 0:
                T += t
            O += o
        return T, O

    def _volume(self, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """(bytes the volume receives from the one before it, its operations), per decision."""
        key = (first, last)
        if key not in self._terms:
            m = self.maths
            ranges = m.ranges(first, last, self.cuts(int(m.heights[last])))
            t = np.zeros(self.samples)
            if first > 0:
                lo, hi = ranges[-1]
                t = m.received_bytes(first, lo, hi, self.cuts(int(m.heights[first - 1]))).sum(axis=(1, 2))
            self._terms[key] = (t, m.operations(first, last, ranges))
        return self._terms[key]

    def score(self, starts: list[int]) -> float:
        """C_p averaged over the random decisions (lower is better)."""
        T, O = self.traffic_and_ops(from_starts(starts, self.graph.num_units))
        c = self.alpha * T / np.maximum(self.T_ref, 1e-12) + (1 - self.alpha) * O / self.O_ref
        return float(c.mean())

    def search(self) -> list[int]:
        """Partition locations (first unit of each volume) found by the greedy loop."""
        U = self.graph.num_units
        current = sorted({0, U - 1})
        best = self.score(current)
        self.history = [(list(current), best)]
        while True:
            added = []
            bounds = current + [U]
            for s, e in zip(bounds, bounds[1:]):  # volume [s, e-1]
                cands = [(self.score(sorted(current + [j])), j) for j in range(s + 1, e)]
                if cands:
                    c, j = min(cands)
                    if c < best:
                        added.append(j)
            if not added:
                return current
            current = sorted(set(current) | set(added))
            best = self.score(current)
            self.history.append((list(current), best))


@functools.lru_cache(maxsize=16)
def _volume_terms(graph: ModelGraph, n_devices: int, samples: int, seed: int) -> dict[tuple[int, int], tuple]:
    """One store of per-volume terms per (model, devices, decisions): shared by every ``a``."""
    return {}


def lcpss_partition(
    graph: ModelGraph, n_devices: int, alpha: float = 0.75, samples: int = 100, seed: int = 0
) -> Partition:
    """The LC-PSS partition as ``(first, last)`` volumes."""
    return from_starts(LCPSS(graph, n_devices, alpha, samples, seed).search(), graph.num_units)
