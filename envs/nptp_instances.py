"""NPTP-v1's instances: a seeded distribution over clusters, links, models and image sizes.

An *instance* is one NPTP problem: a model at an input size, a set of devices (each a board with
its memory caps) and the links between them. NPTP-v1 draws one at every ``reset`` from an
:class:`InstanceSpace` with the env's ``np_random``, so the same seed gives the same instance (and
the same trajectory for the same actions) and different seeds give different instances; a fixed
scenario is the one-point space (``n_devices: [3, 3]`` of a 3-device pool, one bandwidth, one
model, one size).

The space, as a mapping (``conf/env/nptp.yaml``'s ``env.instances``):

* ``devices``: a device-group name or path (the pool; ``nptp6`` by default: two each of Xavier,
  TX2, Nano with NPTP's activation-share caps) or a list of device entries;
* ``n_devices``: ``[min, max]``, drawn uniformly; that many entries of the pool are drawn without
  replacement and in random order (so the device order varies too);
* ``bandwidth_mbps``: ``[low, high]``, drawn log-uniformly, the same on every device;
* ``models`` and ``inputs``: lists, each drawn uniformly;
* ``latency_ms``: the per-message latency of every link (fixed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from splitgym.costmodels.cluster import Cluster, load_conf
from splitgym.costmodels.errors import EnvArgumentError

__all__ = ["InstanceSpace", "Instance", "DEFAULT_SPACE"]

DEFAULT_SPACE: dict[str, Any] = {
    "devices": "nptp6",
    "n_devices": [3, 5],
    "bandwidth_mbps": [0.8, 8.0],
    "models": ["vgg16"],
    "inputs": [224],
    "latency_ms": 2.0,
}


@dataclass(frozen=True)
class Instance:
    """One drawn NPTP problem."""

    model: str
    input: int
    devices: tuple[Mapping[str, Any], ...]
    bandwidth_mbps: float
    latency_ms: float

    def cluster(self) -> Cluster:
        return Cluster.from_config(
            {"name": "nptp-v1", "devices": [dict(d) for d in self.devices]},
            {"name": "nptp-v1", "bandwidth_mbps": self.bandwidth_mbps, "latency_ms": self.latency_ms},
        )

    def key(self) -> tuple[Any, ...]:
        return (self.model, self.input, tuple(d["name"] for d in self.devices), self.bandwidth_mbps)


def _pair(value: Any, field: str, kind: type) -> tuple[Any, Any]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise EnvArgumentError(f"instances.{field}: expected [min, max], got {value!r}")
    lo, hi = value
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in (lo, hi)) or not 0 < lo <= hi:
        raise EnvArgumentError(f"instances.{field}: expected 0 < min <= max, got {list(value)!r}")
    if kind is int and (int(lo) != lo or int(hi) != hi):
        raise EnvArgumentError(f"instances.{field}: expected whole numbers, got {list(value)!r}")
    return kind(lo), kind(hi)


def _list(value: Any, field: str, kind: type) -> tuple[Any, ...]:
    if isinstance(value, (str, int)):
        value = [value]
    if (
        not isinstance(value, Sequence)
        or not value
        or any(not isinstance(v, kind) or isinstance(v, bool) for v in value)
    ):
        raise EnvArgumentError(f"instances.{field}: expected a non-empty list of {kind.__name__}, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class InstanceSpace:
    """A seeded distribution of NPTP instances (see the module docstring)."""

    pool: tuple[Mapping[str, Any], ...]
    n_devices: tuple[int, int]
    bandwidth_mbps: tuple[float, float]
    models: tuple[str, ...]
    inputs: tuple[int, ...]
    latency_ms: float

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> InstanceSpace:
        """From a mapping (missing keys: :data:`DEFAULT_SPACE`'s); unknown keys are refused."""
        given = dict(cfg or {})
        unknown = sorted(set(given) - set(DEFAULT_SPACE))
        if unknown:
            raise EnvArgumentError(f"instances.{unknown[0]}: unknown key (known: {', '.join(DEFAULT_SPACE)})")
        c = {**DEFAULT_SPACE, **given}
        devices = c["devices"]
        pool = load_conf("devices", devices).get("devices", []) if isinstance(devices, str) else devices
        if not isinstance(pool, Sequence) or not all(isinstance(d, Mapping) and "name" in d for d in pool):
            raise EnvArgumentError(f"instances.devices: expected a device group or a list of devices, got {devices!r}")
        n = _pair(c["n_devices"], "n_devices", int)
        if n[0] < 2 or n[1] > len(pool):
            raise EnvArgumentError(f"instances.n_devices: must lie in 2..{len(pool)} (the pool's size), got {list(n)}")
        lat = c["latency_ms"]
        if isinstance(lat, bool) or not isinstance(lat, (int, float)) or lat < 0:
            raise EnvArgumentError(f"instances.latency_ms: expected a number >= 0, got {lat!r}")
        inputs = _list(c["inputs"], "inputs", int)
        if min(inputs) < 32:
            raise EnvArgumentError(f"instances.inputs: sizes must be >= 32 pixels, got {list(inputs)}")
        return cls(
            tuple(dict(d) for d in pool),
            n,
            _pair(c["bandwidth_mbps"], "bandwidth_mbps", float),
            _list(c["models"], "models", str),
            inputs,
            float(lat),
        )

    @property
    def n_max(self) -> int:
        return self.n_devices[1]

    def draw(self, rng: np.random.Generator) -> Instance:
        """One instance; every draw consumes the generator the same way (repeatable)."""
        n = int(rng.integers(self.n_devices[0], self.n_devices[1] + 1))
        picked = rng.choice(len(self.pool), size=n, replace=False)
        lo, hi = self.bandwidth_mbps
        bw = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        model = self.models[int(rng.integers(len(self.models)))]
        size = self.inputs[int(rng.integers(len(self.inputs)))]
        return Instance(model, size, tuple(self.pool[int(i)] for i in picked), round(bw, 6), self.latency_ms)


@dataclass(frozen=True)
class SplitSpace:
    """A named split's instances as NPTP-v1's distribution (``NPTPv1Env(split=...)``): a uniform
    draw among them. ``models`` is the observation's one-hot vocabulary: the family's train models,
    so a policy trained on ``<family>/train`` reads every part of the family with the same inputs
    (a held-out model is all zeros there, as it should be: the policy has never seen it)."""

    items: tuple[Any, ...]  # split_kinds.Named, value an Instance
    n_max: int
    models: tuple[str, ...]
    label: str

    @property
    def n_devices(self) -> tuple[int, int]:
        sizes = [len(i.value.devices) for i in self.items]
        return min(sizes), max(sizes)

    @classmethod
    def from_split(cls, split: str, instance: int | None) -> SplitSpace:
        from splitgym.envs.split_kinds import split_items
        from splitgym.envs.splits import get_split, list_splits

        sp, items = split_items(split, instance, "splitgym/NPTP-v1")
        family = split.partition("/")[0]
        vocab = get_split(f"{family}/train").instances if f"{family}/train" in list_splits() else sp.instances
        models = tuple(dict.fromkeys(i.value.model for i in vocab))
        label = split if instance is None else f"{split}[{instance}]"
        return cls(tuple(items), sp.max_devices, models, label)
