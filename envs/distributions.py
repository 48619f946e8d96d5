"""Where DistrEdge-v1 gets its instance at each ``reset``: a seeded draw from a distribution.

Two kinds of instance source share one small protocol (:class:`InstanceSource`): ``sample(rng)``
returns a :class:`~splitgym.envs.scenarios.Scenario`, ``max_devices`` bounds the device count (the
env pads to it) and ``models`` names the (model, input) pairs that can occur (the env traces them
to bound an episode's length).

* :class:`ScenarioList` -- a finite list, drawn uniformly: a fixed scenario is the one-point list,
  a named split (:mod:`splitgym.envs.splits`) is the list of its instances;
* :class:`DistrEdgeDistribution` -- generative: a model, a device count, a board per device and a
  link cap per device (log-uniform), from a YAML under ``conf/distribution`` or a mapping.

Why a distribution and not a list of scenarios: a policy that should face many clusters must see
clusters it was not tuned on; why whole Mbps and a fixed board set: the draw stays readable (its
name says what it is) and every draw has a stored profile, so no draw measures this machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from splitgym.costmodels.boards import BOARDS
from splitgym.costmodels.cluster import load_conf
from splitgym.costmodels.errors import EnvArgumentError
from splitgym.envs.scenarios import Scenario, get_scenario

__all__ = ["InstanceSource", "ScenarioList", "DistrEdgeDistribution", "load_distribution"]


class InstanceSource(Protocol):
    """What DistrEdge-v1 draws its instances from."""

    max_devices: int

    def sample(self, rng: np.random.Generator) -> Scenario: ...

    def models(self) -> list[tuple[str, int | None]]: ...


@dataclass(frozen=True)
class ScenarioList:
    """A finite set of instances drawn uniformly (one entry: a fixed scenario)."""

    scenarios: tuple[Scenario, ...]
    max_devices: int

    def __post_init__(self) -> None:
        if not self.scenarios:
            raise EnvArgumentError("instances: the list is empty")
        sizes = [_n_devices(sc) for sc in self.scenarios]
        if max(sizes) > self.max_devices:
            raise EnvArgumentError(f"max_devices: {self.max_devices} is below an instance's {max(sizes)} devices")

    @classmethod
    def point(cls, scenario: str | Scenario, max_devices: int | None = None) -> ScenarioList:
        """One fixed scenario as a one-point distribution."""
        sc = get_scenario(scenario, Scenario)
        return cls((sc,), max_devices or _n_devices(sc))

    def sample(self, rng: np.random.Generator) -> Scenario:
        return self.scenarios[int(rng.integers(len(self.scenarios)))]

    def models(self) -> list[tuple[str, int | None]]:
        return sorted({(sc.model, sc.input) for sc in self.scenarios}, key=str)


@dataclass(frozen=True)
class DistrEdgeDistribution:
    """Models x device count x boards x per-device link caps (see ``conf/distribution``)."""

    name: str
    models_: tuple[tuple[str, int | None], ...]
    boards: tuple[str, ...]
    devices: tuple[int, int]
    bandwidth_mbps: tuple[float, float]
    max_devices: int
    partition: str = "lcpss"
    alpha: float = 0.75

    def __post_init__(self) -> None:
        lo, hi = self.devices
        if not (1 <= lo <= hi):
            raise EnvArgumentError(f"devices: expected [min, max] with 1 <= min <= max, got {list(self.devices)}")
        if hi > self.max_devices:
            raise EnvArgumentError(f"max_devices: {self.max_devices} is below the largest count {hi}")
        blo, bhi = self.bandwidth_mbps
        if not (0 < blo <= bhi):
            raise EnvArgumentError(f"bandwidth_mbps: expected [low, high] with 0 < low <= high, got {[blo, bhi]}")
        unknown = [b for b in self.boards if b not in BOARDS]
        if unknown or not self.boards:
            raise EnvArgumentError(f"boards: unknown or none {unknown or []} (known: {', '.join(BOARDS)})")
        if not self.models_:
            raise EnvArgumentError("models: the list is empty")

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any]) -> DistrEdgeDistribution:
        """From a YAML's mapping; an unknown key is refused (it would otherwise be ignored)."""
        known = {"name", "models", "boards", "devices", "bandwidth_mbps", "max_devices", "partition", "alpha"}
        extra = sorted(set(cfg) - known)
        if extra:
            raise EnvArgumentError(f"distribution: unknown key {extra[0]!r} (known: {', '.join(sorted(known))})")
        try:
            models = tuple(
                (str(m["model"]), None if m.get("input") is None else int(m["input"])) for m in cfg["models"]
            )
            lo, hi = (int(v) for v in cfg["devices"])
            blo, bhi = (float(v) for v in cfg["bandwidth_mbps"])
            boards = tuple(str(b) for b in cfg["boards"])
        except (KeyError, TypeError, ValueError) as exc:
            raise EnvArgumentError(f"distribution: missing or malformed {exc.args[0] if exc.args else exc!s}") from None
        return cls(
            name=str(cfg.get("name", "custom")),
            models_=models,
            boards=boards,
            devices=(lo, hi),
            bandwidth_mbps=(blo, bhi),
            max_devices=int(cfg.get("max_devices", hi)),
            partition=str(cfg.get("partition", "lcpss")),
            alpha=float(cfg.get("alpha", 0.75)),
        )

    def sample(self, rng: np.random.Generator) -> Scenario:
        model, size = self.models_[int(rng.integers(len(self.models_)))]
        n = int(rng.integers(self.devices[0], self.devices[1] + 1))
        boards = [self.boards[int(i)] for i in rng.integers(len(self.boards), size=n)]
        lo, hi = np.log(self.bandwidth_mbps)
        mbps = [float(np.round(np.exp(v))) for v in rng.uniform(lo, hi, size=n)]
        return make_scenario(model, size, boards, mbps, self.partition, self.alpha)

    def models(self) -> list[tuple[str, int | None]]:
        return list(self.models_)


def make_scenario(
    model: str, size: int | None, boards: Sequence[str], mbps: Sequence[float], partition: str, alpha: float
) -> Scenario:
    """One instance: devices named ``<board>-<i>``, every device its own link cap; its name
    spells all of it (``vgg16@224-xavier+nano-120+80``)."""
    devices = {"name": "+".join(boards), "devices": [{"name": f"{b}-{i}", "board": b} for i, b in enumerate(boards)]}
    caps = "+".join(f"{m:g}" for m in mbps)
    network = {"name": f"mbps-{caps}", "bandwidth_mbps": float(max(mbps)), "per_device_mbps": [float(m) for m in mbps]}
    name = f"{model}@{size or 'default'}-{devices['name']}-{caps}"
    return Scenario(name, model=model, input=size, devices=devices, network=network, partition=partition, alpha=alpha)


def load_distribution(spec: str | Mapping[str, Any], **overrides: Any) -> DistrEdgeDistribution:
    """A distribution by name (``conf/distribution/<name>.yaml``), YAML path or mapping; keyword
    overrides (``max_devices=6``) replace its keys, each checked as in the file."""
    cfg = dict(load_conf("distribution", spec) if isinstance(spec, str) else spec)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return DistrEdgeDistribution.from_mapping(cfg)


def _n_devices(sc: Scenario) -> int:
    devices = sc.devices
    if isinstance(devices, Mapping) and isinstance(devices.get("devices"), list):
        return len(devices["devices"])
    return sc.cluster().size
