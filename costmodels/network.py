"""Links between devices: bandwidth, latency, per-transfer overhead; constant or from a trace.

DistrEdge caps each device's bandwidth (OpenWrt, DE L250) but never says what a transfer between
two differently capped devices gets. Our rule: both ends share one access point, the sender's
cap limits its uplink and the receiver's cap its downlink, so the transfer runs at
``min(cap_src, cap_dst)``. A transfer of ``n > 0`` bytes then takes
``latency + overhead + transport + 8 n / bandwidth``; zero bytes take no time (no message is sent).
``overhead`` is the per-transfer I/O time a plan asks for (DistrEdge's I/O read/write time; the
executors *wait* it, to emulate it), ``transport`` the per-message cost of the real transport,
measured (``splitgym profile-links``, a link table named by a network YAML): the executors pay it
for real, so they never wait it, and the cost models charge it.

**Medium.** ``switched`` (the default, DistrEdge's send/receive threads per device, DE L252):
simultaneous transfers do not contend. ``shared``: one access point carries one transfer at a
time (Wi-Fi through one AP, MS-MDI's testbed); the concurrent transfers of one step are served
first-come first-served in order of readiness (ties: receiver, then sender, in device order), each
at its pair rate, so a requester scattering to 4 devices at once finishes after 4 transfer times.
The rule is :func:`fifo_finish` (batched) / :func:`fifo_finish_list` (one decision, the same
operations) / :class:`MediumClock` (event loops), shared by every kind's cost model.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.inputfile import read_text
from splitgym.costmodels.limits import MAX_MBPS, MIN_MBPS, check_range

#: the size limit of a trace CSV (about a million rows)
MAX_TRACE_BYTES = 32 * 1024 * 1024

__all__ = [
    "Link",
    "BandwidthTrace",
    "Network",
    "MEDIA",
    "MediumClock",
    "fifo_finish",
    "fifo_finish_list",
    "transfer_seconds",
    "link_seconds",
]

MEDIA = ("switched", "shared")


def _seconds(nbytes: Any, mbps: Any, latency_s: float, overhead_s: float) -> Any:
    """The link-time formula, written once for every plan kind: floats and arrays alike."""
    return latency_s + overhead_s + nbytes * 8.0 / (mbps * 1e6)


def transfer_seconds(
    nbytes: np.ndarray | float, mbps: np.ndarray | float, latency_s: float = 0.0, overhead_s: float = 0.0
) -> np.ndarray:
    """Vectorised transfer time; zero bytes cost nothing."""
    nbytes = np.asarray(nbytes, dtype=float)
    return np.where(nbytes > 0, _seconds(nbytes, np.asarray(mbps, dtype=float), latency_s, overhead_s), 0.0)


def link_seconds(nbytes: float, mbps: float, latency_s: float = 0.0, overhead_s: float = 0.0) -> float:
    """:func:`transfer_seconds` of one message, as a float: the same formula without numpy's
    per-call cost, for the event loops that price one transfer at a time (the queueing simulator,
    the tile scorer, HiDP's programme)."""
    return float(_seconds(nbytes, mbps, latency_s, overhead_s)) if nbytes > 0 else 0.0


def fifo_finish(ready: np.ndarray, secs: np.ndarray) -> np.ndarray:
    """When each of a batch's concurrent transfers finishes on one shared medium.

    ``ready`` and ``secs`` are (B, K): when each transfer could start and how long it takes alone.
    The medium serves them one at a time in order of ``ready`` (stable: ties in index order),
    each starting at ``max(ready, medium free)``. A zero-second transfer (no message) changes
    nothing for the later ones, so callers need not remove them.
    """
    B, K = ready.shape
    order = np.argsort(ready, axis=1, kind="stable")
    r = np.take_along_axis(ready, order, axis=1)
    d = np.take_along_axis(secs, order, axis=1)
    done = np.empty_like(r)
    free = np.zeros(B)
    for i in range(K):
        free = np.maximum(r[:, i], free) + d[:, i]
        done[:, i] = free
    out = np.empty_like(done)
    np.put_along_axis(out, order, done, axis=1)
    return out


def fifo_finish_list(ready: list[float], secs: list[float]) -> list[float]:
    """:func:`fifo_finish` of one decision in plain Python (the same operations, so equal results)."""
    out = [0.0] * len(ready)
    free = 0.0
    for i in sorted(range(len(ready)), key=ready.__getitem__):
        r = ready[i]
        free = (r if r > free else free) + secs[i]
        out[i] = free
    return out


class MediumClock:
    """When each medium is next free, for event loops that book one transfer at a time: a
    medium is named by a key (one per sender's uplink, or one for a shared access point)."""

    def __init__(self) -> None:
        self.free: dict[int, float] = {}

    def book(self, key: int, t: float, seconds: float) -> float:
        """Book ``seconds`` on medium ``key`` from time ``t`` (or when it frees); the end time."""
        start = max(t, self.free.get(key, 0.0))
        self.free[key] = start + seconds
        return start + seconds


@dataclass(frozen=True)
class Link:
    """One directed link."""

    bandwidth_mbps: float
    latency_s: float = 0.0
    overhead_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.bandwidth_mbps > 0:
            raise ConfigError(f"bandwidth_mbps: must be > 0, got {self.bandwidth_mbps}")
        if self.latency_s < 0 or self.overhead_s < 0:
            raise ConfigError(f"latency/overhead: must be >= 0, got {self.latency_s}/{self.overhead_s}")

    def seconds(self, nbytes: float) -> float:
        return float(transfer_seconds(nbytes, self.bandwidth_mbps, self.latency_s, self.overhead_s))


@dataclass(frozen=True)
class BandwidthTrace:
    """Piecewise-constant bandwidth over time: at ``times[i] <= t < times[i+1]`` the rate is
    ``mbps[i]``; the trace repeats with period ``times[-1] + step`` when ``loop`` is set."""

    times: tuple[float, ...]
    mbps: tuple[float, ...]
    loop: bool = True

    def __post_init__(self) -> None:
        if not self.times or len(self.times) != len(self.mbps):
            raise ConfigError("trace: needs as many times as bandwidths, and at least one")
        bad = next((b for b in self.mbps if not (b > 0 and math.isfinite(b))), None)
        if bad is not None:
            raise ConfigError(f"trace: bandwidths must be finite and > 0, got {bad}")
        far = next((b for b in self.mbps if not MIN_MBPS <= b <= MAX_MBPS), None)
        if far is not None:
            check_range("trace: mbps", far, MIN_MBPS, MAX_MBPS, ConfigError)
        if self.times[0] != 0 or not math.isfinite(self.times[-1]):
            raise ConfigError(f"trace: times must start at 0 and be finite, got {self.times[:3]}...")
        same = next((b for a, b in zip(self.times, self.times[1:]) if not b > a), None)
        if same is not None:
            raise ConfigError(f"trace: times must strictly increase, got {same} after a time >= it")

    @property
    def period(self) -> float:
        step = self.times[-1] - self.times[-2] if len(self.times) > 1 else 1.0
        return self.times[-1] + step

    def at(self, t: float) -> float:
        if self.loop:
            t = t % self.period
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        return self.mbps[max(i, 0)]

    @classmethod
    def from_csv(cls, path: str | Path, column: str = "mbps") -> BandwidthTrace:
        """A CSV with columns ``time_s`` and ``mbps`` (or the named column)."""
        path = Path(path)
        text = read_text(path, "trace", ConfigError, MAX_TRACE_BYTES)
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or "time_s" not in rows[0] or column not in rows[0]:
            raise ConfigError(f"trace {path}: expected a header with columns time_s,{column}")
        it, iv = rows[0].index("time_s"), rows[0].index(column)
        times, mbps = [], []
        for n, row in enumerate(rows[1:], start=2):
            if not row:
                continue
            if len(row) != len(rows[0]):  # an extra cell (a decimal comma?) would be silently dropped
                raise ConfigError(f"trace {path}: line {n}: {len(row)} cells for {len(rows[0])} columns")
            try:
                times.append(float(row[it]))
                mbps.append(float(row[iv]))
            except (IndexError, ValueError):
                shown = f"{row!r}"[:60]
                raise ConfigError(f"trace {path}: line {n}: expected numbers time_s,{column}, got {shown}") from None
        return cls(tuple(times), tuple(mbps))

    @classmethod
    def synthetic(
        cls, seed: int, duration_s: float = 3600.0, step_s: float = 60.0, low: float = 20.0, high: float = 300.0
    ) -> BandwidthTrace:
        """A random-walk trace (DistrEdge's synthetic traces, Section V-F, are not published)."""
        rng = np.random.default_rng(seed)
        n = int(duration_s // step_s)
        walk = np.clip(np.cumsum(rng.normal(0, (high - low) / 8, n)) + (low + high) / 2, low, high)
        return cls(tuple(float(i * step_s) for i in range(n)), tuple(float(v) for v in walk))


@dataclass
class Network:
    """Per-device bandwidth caps (Mbps), optionally time-varying, and the pair rule above."""

    caps_mbps: dict[str, float]
    latency_s: float = 0.0
    overhead_s: float = 0.0
    traces: dict[str, BandwidthTrace] = field(default_factory=dict)
    medium: str = "switched"
    transport_s: float = 0.0  # measured per-message cost of the real transport (a link table's fit)

    def __post_init__(self) -> None:
        for name, cap in self.caps_mbps.items():
            if not cap > 0:
                raise ConfigError(f"bandwidth_mbps: device {name} needs a cap > 0, got {cap}")
        for key, value in (("latency_ms", self.latency_s), ("overhead_ms", self.overhead_s)):
            if not value >= 0:
                raise ConfigError(f"{key}: must be >= 0, got {value * 1e3:g}")
        if not self.transport_s >= 0:
            raise ConfigError(f"links: the transport's overhead must be >= 0 ms, got {self.transport_s * 1e3:g}")
        if self.medium not in MEDIA:
            raise ConfigError(f"medium: must be one of {', '.join(MEDIA)}, got {self.medium!r}")

    @property
    def shared(self) -> bool:
        return self.medium == "shared"

    @property
    def message_s(self) -> float:
        """The fixed cost of one message beyond the wire's latency: the plan's I/O overhead plus
        the transport's measured one (exactly ``overhead_s`` when no link table is named)."""
        return self.overhead_s + self.transport_s

    def cap(self, device: str, t: float = 0.0) -> float:
        if device in self.traces:
            return self.traces[device].at(t)
        try:
            return self.caps_mbps[device]
        except KeyError:
            raise ConfigError(f"network: no bandwidth for device {device!r}") from None

    def link(self, src: str, dst: str, t: float = 0.0) -> Link:
        return Link(min(self.cap(src, t), self.cap(dst, t)), self.latency_s, self.message_s)

    def matrix(self, names: list[str], t: float = 0.0) -> np.ndarray:
        """Bandwidth (Mbps) between every ordered pair; the diagonal is infinite (same device)."""
        caps = np.array([self.cap(n, t) for n in names], dtype=float)
        m = np.minimum(caps[:, None], caps[None, :])
        np.fill_diagonal(m, np.inf)
        return m
