"""Refit a device profile from measured split-parts: the cost model learns from the executor.

A profile is measured unit by unit on bands of rows in isolation (:mod:`.profiler`); an executor
runs *fused* parts (several units on one slice, padding at true borders only) inside a whole
plan, with caches, allocations and Python overhead the isolated measurement does not see. Each
measured part is one equation: its seconds = sum over its units of (scale_u x the profile's
seconds for the rows that unit computes in the part + offset_u). :func:`calibrate` solves for
one scale and one offset per unit by least squares on *relative* errors (every part weighs the
same, whatever its size), with a ridge pull towards the uncalibrated profile (scale 1, offset 0)
so that units few parts exercise stay as measured. The result is a new :class:`DeviceProfile`
(kind ``"fitted"``, with the fit in its ``meta``) the simulator uses like any other.

Choices: an offset per unit rather than per part, because a fused part runs every unit of it
(the profile's tables have no place for a per-part constant); scales are kept within [0.2, 5]
and offsets non-negative, which a wrong fit would otherwise break; the head (fully connected
tail) is measured whole, so its time is the median of its samples when there are any.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from splitgym.costmodels.errors import ProfileError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.profiles import DeviceProfile, UnitTable
from splitgym.costmodels.traffic import SplitMaths

__all__ = ["PartSample", "unit_rows", "predict_parts", "calibrate"]


@dataclass(frozen=True)
class PartSample:
    """One measured part: units ``first..last`` producing output rows ``rows`` of unit ``last``
    (all columns) in ``seconds``. ``first = last = -1`` marks the head."""

    first: int
    last: int
    rows: tuple[int, int]
    seconds: float

    @property
    def is_head(self) -> bool:
        return self.first < 0


def unit_rows(maths: SplitMaths, sample: PartSample) -> np.ndarray:
    """(U,) rows each unit computes for the part (0 for units outside it)."""
    out = np.zeros(len(maths.heights), dtype=np.int64)
    cuts = np.array([[sample.rows[0], sample.rows[1]]])
    for (a, b), u in zip(maths.ranges(sample.first, sample.last, cuts), range(sample.last, sample.first - 1, -1)):
        out[u] = int(b[0, 0] - a[0, 0])
    return out


def _design(profile: DeviceProfile, maths: SplitMaths, parts: Sequence[PartSample]) -> tuple[np.ndarray, np.ndarray]:
    """Per part and unit: the profile's seconds, and 1 where the unit computes any row."""
    U = len(maths.heights)
    secs, used = np.zeros((len(parts), U)), np.zeros((len(parts), U))
    for i, p in enumerate(parts):
        rows = unit_rows(maths, p)
        for u in np.flatnonzero(rows):
            secs[i, u] = float(profile.unit_latency(int(u), int(rows[u])))
            used[i, u] = 1.0
    return secs, used


def predict_parts(profile: DeviceProfile, graph: ModelGraph, parts: Sequence[PartSample]) -> np.ndarray:
    """The profile's seconds for each part (the head: its head time)."""
    maths = SplitMaths(graph)
    body = [p for p in parts if not p.is_head]
    secs, _ = _design(profile, maths, body)
    it = iter(secs.sum(axis=1))
    return np.array([profile.head_seconds if p.is_head else next(it) for p in parts])


def calibrate(
    profile: DeviceProfile, graph: ModelGraph, parts: Sequence[PartSample], ridge: float = 0.05
) -> DeviceProfile:
    """A profile refitted to measured ``parts`` (see the module docstring)."""
    profile.check(graph)
    body = [p for p in parts if not p.is_head and p.rows[1] > p.rows[0]]
    heads = [p.seconds for p in parts if p.is_head]
    if not body:
        raise ProfileError(f"calibration of {profile.name}: no measured part with rows to fit")
    bad = [p for p in parts if not (np.isfinite(p.seconds) and p.seconds > 0)]
    if bad:
        raise ProfileError(f"calibration of {profile.name}: measured seconds must be > 0, got {bad[0].seconds!r}")
    maths = SplitMaths(graph)
    secs, used = _design(profile, maths, body)
    measured = np.array([p.seconds for p in body])
    U = secs.shape[1]
    # relative residuals: divide each equation by its measurement
    A = np.hstack([secs, used]) / measured[:, None]
    b = np.ones(len(body))
    # ridge towards (scale 1, offset 0), offsets in units of each unit's typical part time
    typical = np.where(secs.sum(axis=0) > 0, secs.sum(axis=0) / np.maximum(used.sum(axis=0), 1), 1e-3)
    reg = np.sqrt(ridge) * np.diag(np.concatenate([np.ones(U), 1.0 / typical]))
    prior = np.concatenate([np.ones(U), np.zeros(U)])
    x, *_ = np.linalg.lstsq(np.vstack([A, reg]), np.concatenate([b, reg @ prior]), rcond=None)
    scale = np.clip(x[:U], 0.2, 5.0)
    offset = np.clip(x[U:], 0.0, None)
    units = []
    for u, t in enumerate(profile.units):
        s = np.asarray(t.seconds, dtype=float) * scale[u] + offset[u]
        units.append(UnitTable(t.name, list(t.heights), list(t.widths), s.tolist()))
    head = statistics.median(heads) if heads else profile.head_seconds
    meta = {
        **profile.meta,
        "calibrated_from": profile.name,
        "calibration_parts": len(body),
        "calibration_scale": scale.tolist(),
        "calibration_offset_s": offset.tolist(),
        "calibration_head_samples": len(heads),
        "calibration_ridge": ridge,
    }
    return dataclasses.replace(
        profile, name=f"{profile.name}+calibrated", kind="fitted", units=units, head_seconds=float(head), meta=meta
    )
