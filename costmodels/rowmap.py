"""Vectorised row (and column) maths: which input range an output range needs.

Along one axis every map from an output range ``[a, b)`` to the input range it needs is, for a
path of windows and element-wise ops, a *clipped affine* map

    start = max(0, S*a - P)        end = min(hi, S*b + C)

(the Vertical-Splitting Law of DistrEdge, Eq. 1-2, generalised to padding and dilation: the
clipping at 0 and ``hi`` is where the true border pads). Clipped affine maps compose into clipped
affine maps, so a chain of layers is one map. A block with branches (residual, inception, SE)
needs the hull of what its paths need; since every map is monotone, that hull is the min of the
path starts and the max of the path ends, so a block is a small set of path maps. All evaluation
is numpy-vectorised over arrays of ranges, which is what makes scoring thousands of split
decisions per second possible.

One corner is approximate: output rows that read *only* padding (a conv padding at least its
kernel span, which no torchvision model does) need no input. A single map knows it (the range is
empty), but a composed path map does not see the empty range in between and may claim a row or
two more than the node-level propagation in :mod:`slicing`; the cost maths then over-counts that
row, while execution (node-level) stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from splitgym.costmodels.ops import Window

__all__ = ["AxisMap", "UnitMap", "IDENTITY_SLOPE"]

IDENTITY_SLOPE = 1


@dataclass(frozen=True)
class AxisMap:
    """One clipped affine map of output ranges to input ranges along one axis."""

    S: int
    P: int
    C: int
    hi: int

    @staticmethod
    def window(w: Window, axis: int, size_in: int) -> AxisMap:
        s, p = w.stride[axis], w.pad_lo[axis]
        return AxisMap(S=s, P=p, C=w.span(axis) - s - p, hi=size_in)

    @staticmethod
    def identity(size: int) -> AxisMap:
        return AxisMap(S=1, P=0, C=0, hi=size)

    @staticmethod
    def full(size_in: int) -> AxisMap:
        """Every output element needs the whole input (global ops, broadcast inputs)."""
        return AxisMap(S=0, P=0, C=size_in, hi=size_in)

    def after(self, inner: AxisMap) -> AxisMap:
        """``self`` applied to what ``inner`` yields (``inner`` is nearer the output)."""
        return AxisMap(
            S=self.S * inner.S,
            P=self.S * inner.P + self.P,
            C=self.S * inner.C + self.C,
            hi=min(self.hi, self.S * inner.hi + self.C),
        )

    def range(self, a: int, b: int) -> tuple[int, int]:
        if b <= a:
            return (0, 0)
        # rows that read only padding need no input: an empty range, kept in bounds
        start = min(self.hi, max(0, self.S * a - self.P))
        return (start, max(start, min(self.hi, self.S * b + self.C)))


@dataclass(frozen=True)
class UnitMap:
    """The hull of several path maps (one per distinct path through a block)."""

    paths: tuple[AxisMap, ...]

    @property
    def stride(self) -> int:
        return max(p.S for p in self.paths)

    @cached_property
    def widest(self) -> tuple[int, int]:
        """``(S, P + C)`` of the widest path (largest stride, padding and halo taken separately):
        the unclipped linear bound ``rows_in <= S * rows_out + (P + C)`` the linear planners use;
        cached because they ask for every volume of every partition they price."""
        return max(p.S for p in self.paths), max(p.P for p in self.paths) + max(p.C for p in self.paths)

    @property
    def receptive_field(self) -> int:
        """Input rows one output row needs away from the border (the effective filter size F of
        a block): S + C + P of the widest path; a global path needs its whole input."""
        return max(p.S + p.C + p.P for p in self.paths)

    def range(self, a: int, b: int) -> tuple[int, int]:
        if b <= a:
            return (0, 0)
        rs = [p.range(a, b) for p in self.paths]
        return (min(r[0] for r in rs), max(r[1] for r in rs))

    def __call__(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised: arrays of output ranges to arrays of input ranges; empty maps to (0, 0)."""
        p = self.paths[0]
        start = np.clip(p.S * a - p.P, 0, p.hi)
        end = np.maximum(start, np.minimum(p.hi, p.S * b + p.C))
        for p in self.paths[1:]:
            s = np.clip(p.S * a - p.P, 0, p.hi)
            start = np.minimum(start, s)
            end = np.maximum(end, np.maximum(s, np.minimum(p.hi, p.S * b + p.C)))
        empty = b <= a
        if empty.any():
            start = np.where(empty, 0, start)
            end = np.where(empty, 0, end)
        return start, end
