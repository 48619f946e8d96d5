"""Profile forms: the four ways DistrEdge lets a device's latency-vs-rows curve be described.

DistrEdge (DE L93) accepts a measured table or a regression of it: linear, piecewise-linear or
k-nearest-neighbour. Each form here maps one unit's measured points (heights, seconds) to seconds
at any number of output rows; :meth:`DeviceProfile.in_form` applies one to every unit.

- ``table``: the measurement itself, linearly interpolated (what a profile answers by default).
- ``linear``: least squares ``t = a*h + b``; a negative intercept would make small parts free, so
  it is refitted through the origin then (the linear-ratio view of AOFL, CoEdge, MoDNN).
- ``piecewise``: least squares on hinge functions at ``knots`` evenly spaced heights (the first
  and last are the ends, so ``knots=3`` is one bend); at most as many knots as points, else linear.
- ``knn``: the plain mean of the ``k`` measured heights nearest to ``h`` (ties: the lower
  height). Uniform, not distance-weighted: with 1/d weights a measured height has weight
  infinity and the form collapses to the table on every measured point, so it would smooth
  nothing; the plain mean is scikit-learn's default and averages measurement noise. It is a
  step function of ``h``, so it is evaluated at every row, not only on the measured grid.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

__all__ = ["Form", "FORMS", "DEFAULT_K", "DEFAULT_KNOTS", "form_seconds", "linear_coefficients"]

Form = Literal["table", "linear", "piecewise", "knn"]
FORMS: tuple[str, ...] = get_args(Form)
#: kNN neighbours by default: 3 smooths a single noisy point while staying local on the ~14
#: heights the profiler measures by default (H//12 rows apart).
DEFAULT_K = 3
#: Piecewise-linear knots by default (ends included): one bend, the fewest that is not linear.
DEFAULT_KNOTS = 3


def linear_coefficients(h: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of the per-unit linear fit (through the origin if the intercept is < 0)."""
    if len(h) < 2:
        return float(s[0] / h[0]), 0.0
    a, b = np.polyfit(h, s, 1)
    if b < 0:
        return float(h @ s / (h @ h)), 0.0
    return float(a), float(b)


def _piecewise(h: np.ndarray, s: np.ndarray, at: np.ndarray, knots: int) -> np.ndarray:
    ks = np.linspace(h[0], h[-1], knots)

    def basis(x: np.ndarray) -> np.ndarray:
        return np.stack([np.ones_like(x), x] + [np.maximum(0.0, x - k) for k in ks[1:-1]], 1)

    coef, *_ = np.linalg.lstsq(basis(h), s, rcond=None)
    return basis(at) @ coef


def _knn(h: np.ndarray, s: np.ndarray, at: np.ndarray, k: int) -> np.ndarray:
    dist = np.abs(at[:, None] - h[None, :])
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]  # h is ascending: ties go to the lower height
    return s[nearest].mean(axis=1)


def form_seconds(
    heights: np.ndarray, seconds: np.ndarray, at: np.ndarray, form: Form, k: int = DEFAULT_K, knots: int = DEFAULT_KNOTS
) -> np.ndarray:
    """Seconds at rows ``at`` of one unit measured at ``heights`` (ascending), in ``form``."""
    h = np.asarray(heights, dtype=float)
    s = np.asarray(seconds, dtype=float)
    x = np.asarray(at, dtype=float)
    if form == "table":
        out = np.interp(x, h, s)
    elif form == "knn":
        out = _knn(h, s, x, k)
    elif form == "piecewise" and len(h) > knots:
        out = _piecewise(h, s, x, knots)
    else:  # linear, or piecewise with no more points than knots
        a, b = linear_coefficients(h, s)
        out = a * x + b
    return np.maximum(out, 1e-9)
