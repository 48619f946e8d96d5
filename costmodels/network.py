"""Links between devices: bandwidth, latency, per-transfer overhead; constant or from a trace.

DistrEdge caps each device's bandwidth (OpenWrt, DE L250) but never says what a transfer between
two differently capped devices gets. Our rule: both ends share one access point, the sender's
cap limits its uplink and the receiver's cap its downlink, so the transfer runs at
``min(cap_src, cap_dst)``. A transfer of ``n > 0`` bytes then takes
``latency + overhead + 8 n / bandwidth`` (the overhead is DistrEdge's I/O read/write time); zero
bytes take no time (no message is sent). Contention between simultaneous transfers is not
modelled (each device has its own send and receive threads, DE L252).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.costmodels.errors import ConfigError

__all__ = ["Link", "BandwidthTrace", "Network", "transfer_seconds", "link_seconds"]


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
        if any(b <= 0 for b in self.mbps):
            raise ConfigError(f"trace: bandwidths must be > 0, got min {min(self.mbps)}")
        if list(self.times) != sorted(self.times) or self.times[0] != 0:
            raise ConfigError(f"trace: times must start at 0 and increase, got {self.times[:3]}...")

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
        try:
            with path.open() as f:
                rows = list(csv.DictReader(f))
        except FileNotFoundError:
            raise ConfigError(f"trace: no such file {str(path)!r}") from None
        except (IsADirectoryError, UnicodeDecodeError):
            raise ConfigError(f"trace: {str(path)!r} is not a readable CSV text file") from None
        try:
            return cls(tuple(float(r["time_s"]) for r in rows), tuple(float(r[column]) for r in rows))
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"trace {path}: expected columns time_s,{column} with numbers ({exc})") from None

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

    def __post_init__(self) -> None:
        for name, cap in self.caps_mbps.items():
            if not cap > 0:
                raise ConfigError(f"bandwidth_mbps: device {name} needs a cap > 0, got {cap}")

    def cap(self, device: str, t: float = 0.0) -> float:
        if device in self.traces:
            return self.traces[device].at(t)
        try:
            return self.caps_mbps[device]
        except KeyError:
            raise ConfigError(f"network: no bandwidth for device {device!r}") from None

    def link(self, src: str, dst: str, t: float = 0.0) -> Link:
        return Link(min(self.cap(src, t), self.cap(dst, t)), self.latency_s, self.overhead_s)

    def matrix(self, names: list[str], t: float = 0.0) -> np.ndarray:
        """Bandwidth (Mbps) between every ordered pair; the diagonal is infinite (same device)."""
        caps = np.array([self.cap(n, t) for n in names], dtype=float)
        m = np.minimum(caps[:, None], caps[None, :])
        np.fill_diagonal(m, np.inf)
        return m
