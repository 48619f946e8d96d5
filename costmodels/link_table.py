"""A measured link table (message bytes x bandwidth cap -> seconds) and the link model fitted to it.

``splitgym profile-links`` times the executors' real transport (gloo messages through the
distributed executor's sender) and writes such a table; a network YAML names it with
``links: file.json`` (relative to the YAML). What the cost models take from it is the fit of
:mod:`~splitgym.costmodels.network`'s formula, ``seconds = overhead + 8 bytes / bandwidth_eff``,
by least squares over every row: one per-message ``overhead`` shared by all caps (it is the
processes' and gloo's cost, not the wire's) and one effective bandwidth per cap (``null``: an
unshaped link such as loopback). The fitted overhead becomes the network's ``transport_s``; the
effective bandwidths are reported beside the caps, not applied (the caps stay what the plan says).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.jsonfile import read_json
from splitgym.costmodels.limits import MAX_MBPS, MAX_SECONDS, MIN_MBPS, check_range

__all__ = ["LINKS_FORMAT", "LOCAL_LINKS", "LinkFit", "fit_links", "load_link_table"]

LINKS_FORMAT = "splitgym-links"
#: The table measured on the development machine (``conf/network/local.yaml`` names it).
LOCAL_LINKS = Path(__file__).parent / "data" / "links" / "gloo-local.json"


@dataclass(frozen=True)
class LinkFit:
    """The link model fitted to a table: per-message overhead and effective Mbps per cap."""

    overhead_s: float
    effective_mbps: dict[float | None, float]  # cap (None: unshaped) -> fitted rate (inf: too fast to see)
    rows: int
    mape_pct: float  # of the fit against the table's rows

    def to_json(self) -> dict[str, Any]:
        return {
            "overhead_ms": self.overhead_s * 1e3,
            "effective_mbps": [  # null: too fast to measure
                {"cap_mbps": c, "effective_mbps": e if np.isfinite(e) else None} for c, e in self.effective_mbps.items()
            ],
            "rows": self.rows,
            "mape_pct": self.mape_pct,
        }


def _row(r: Any, i: int, where: str) -> tuple[float, float | None, float]:
    """One table row as (bytes, cap or None, seconds), or a one-line error naming it."""
    if not isinstance(r, dict):
        raise ConfigError(f"{where}: rows[{i}] must be a mapping with bytes, mbps, seconds; got {r!r}")
    try:
        nbytes, seconds = float(r["bytes"]), float(r["seconds"])
        mbps = None if r.get("mbps") is None else float(r["mbps"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: rows[{i}] needs numbers bytes, seconds (and mbps or null): {exc}") from None
    if not nbytes > 0 or not seconds > 0 or (mbps is not None and not mbps > 0):
        raise ConfigError(f"{where}: rows[{i}] needs bytes > 0, seconds > 0, mbps > 0 or null; got {r!r}")
    check_range(f"{where}: rows[{i}].seconds", seconds, 0, MAX_SECONDS, ConfigError)
    if mbps is not None:
        check_range(f"{where}: rows[{i}].mbps", mbps, MIN_MBPS, MAX_MBPS, ConfigError)
    return nbytes, mbps, seconds


def _nonnegative_fit(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares with every coefficient >= 0: a coefficient the fit drives below 0 (an
    overhead or a per-byte time lost in noise, as on loopback) is fixed at 0 and the rest refitted."""
    free = np.ones(A.shape[1], dtype=bool)
    coef = np.zeros(A.shape[1])
    while free.any():
        coef[:] = 0.0
        coef[free] = np.linalg.lstsq(A[:, free], y, rcond=None)[0]
        if (coef >= 0).all():
            break
        free &= coef > 0
    return coef


def fit_links(rows: Sequence[dict[str, Any]], where: str = "links") -> LinkFit:
    """Least-squares fit of ``seconds = overhead + 8 bytes / effective_mbps[cap]`` to ``rows``
    (mappings with ``bytes``, ``mbps`` (None: unshaped) and ``seconds``), on *relative* errors
    (each row weighted by 1/seconds): a plain fit is ruled by the largest messages, whose
    milliseconds of wire time drown the per-message overhead that small messages show. No
    coefficient goes below 0: a rate whose per-byte time is lost in noise (loopback) is infinite."""
    parsed = [_row(r, i, where) for i, r in enumerate(rows)]
    caps = list(dict.fromkeys(c for _, c, _ in parsed))
    if len(parsed) < len(caps) + 1:
        raise ConfigError(f"{where}: need at least {len(caps) + 1} rows to fit {len(caps)} cap(s), got {len(parsed)}")
    A = np.zeros((len(parsed), 1 + len(caps)))
    y = np.array([s for _, _, s in parsed])
    for i, (nb, c, _) in enumerate(parsed):
        A[i, 0] = 1.0
        A[i, 1 + caps.index(c)] = nb * 8.0 / 1e6
    coef = _nonnegative_fit(A / y[:, None], np.ones_like(y))
    overhead = float(coef[0])
    rate = {c: float(1.0 / k) if k > 0 else float("inf") for c, k in zip(caps, coef[1:])}
    pred = A @ coef
    mape = float(np.mean(np.abs(pred - y) / y) * 100)
    return LinkFit(overhead, rate, len(parsed), mape)


def load_link_table(path: str | Path) -> LinkFit:
    """The fit of a link table file (written by ``splitgym profile-links``); one-line errors."""
    path = Path(path)
    doc = read_json(path, "links", ConfigError)
    if not isinstance(doc, dict) or doc.get("format") != LINKS_FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ConfigError(f"links: {str(path)!r} has format {got!r}, expected {LINKS_FORMAT!r}")
    rows = doc.get("rows")
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"links: {str(path)!r} has no rows (a list of bytes, mbps, seconds)")
    return fit_links(rows, where=f"links {path.name}")
