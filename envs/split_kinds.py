"""The instance kinds of the NPTP-v1, MSMDI-v1 and HiDP-v0 splits, and how an env plays a split.

A split file (:mod:`splitgym.envs.splits`) stores each instance as a mapping; its ``kind`` says how
that mapping decodes. DistrEdge-v1's kind is a :class:`~splitgym.envs.scenarios.Scenario`; the
kinds here are :class:`Named` pairs (the instance's name, which the benchmark and
``references.json`` key on, and what the env builds from):

* ``nptp``: an :class:`~splitgym.envs.nptp_instances.Instance` (model, size, devices, bandwidth);
* ``msmdi``: an :class:`MSMDIInstance`: the scenario, per-source rates, worker count and the
  arrivals' seed. The seed is part of the instance because the arrivals are what an episode's
  objective depends on: with it frozen, a planner's score on an instance is one number, as a
  DistrEdge plan's is;
* ``hidp``: a :class:`HiDPInstance`: the stream models and rates, the request count, the start
  time in the availability schedule and the arrivals' seed (for the same reason).

An env given ``split="family/part"`` draws one of the split's instances per reset with its own
``np_random`` (:func:`pick`): uniform over the instances, so the same seed gives the same
instance and different seeds different ones; ``instance=i`` (or ``reset(options={"instance": i})``)
plays the i-th alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from splitgym.costmodels.errors import EnvArgumentError
from splitgym.envs.nptp_instances import Instance

__all__ = ["Named", "MSMDIInstance", "HiDPInstance", "DECODERS", "split_items", "pick"]


@dataclass(frozen=True)
class Named:
    """One split instance: its name and the env-specific object."""

    name: str
    value: Any


@dataclass(frozen=True)
class MSMDIInstance:
    scenario: str
    rates: tuple[float, ...]
    workers: int
    arrival_seed: int


@dataclass(frozen=True)
class HiDPInstance:
    models: tuple[str, ...]
    rates: tuple[float, ...]
    requests: int
    start: float
    arrival_seed: int


def _nptp(d: Mapping[str, Any]) -> Named:
    devices = tuple(dict(x) for x in d["devices"])
    inst = Instance(str(d["model"]), int(d["input"]), devices, float(d["bandwidth_mbps"]), float(d["latency_ms"]))
    return Named(str(d["name"]), inst)


def _msmdi(d: Mapping[str, Any]) -> Named:
    rates = tuple(float(r) for r in d["rates"])
    return Named(str(d["name"]), MSMDIInstance(str(d["scenario"]), rates, int(d["workers"]), int(d["arrival_seed"])))


def _hidp(d: Mapping[str, Any]) -> Named:
    inst = HiDPInstance(
        tuple(str(m) for m in d["models"]),
        tuple(float(r) for r in d["rates"]),
        int(d["requests"]),
        float(d["start"]),
        int(d["arrival_seed"]),
    )
    return Named(str(d["name"]), inst)


#: kind -> decoder (registered by :mod:`splitgym.envs.splits`)
DECODERS = {"nptp": _nptp, "msmdi": _msmdi, "hidp": _hidp}


def split_items(split: str, instance: int | None, env_id: str) -> tuple[Any, tuple[Named, ...]]:
    """The split (checked to be for ``env_id``) and the instances an env built on it draws from:
    all of them, or the ``instance``-th alone."""
    from splitgym.envs.splits import get_split

    sp = get_split(split)
    if sp.env_id != env_id:
        raise EnvArgumentError(f"split: {split} is for {sp.env_id}, not {env_id}")
    items = sp.instances
    if instance is not None:
        if isinstance(instance, bool) or not isinstance(instance, int) or not 0 <= instance < len(items):
            raise EnvArgumentError(f"instance: expected an index in [0, {len(items)}) of {split}, got {instance!r}")
        items = (items[instance],)
    return sp, items


def pick(items: tuple[Named, ...], rng: np.random.Generator, options: Mapping[str, Any] | None) -> Named:
    """The instance of this reset: ``options["instance"]`` (an index) if given, else a uniform draw."""
    index = (options or {}).get("instance")
    if index is None:
        return items[int(rng.integers(len(items)))]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(items):
        raise EnvArgumentError(f"options.instance: expected an index in [0, {len(items)}), got {index!r}")
    return items[index]


def hidp_split(split: str, instance: int | None) -> tuple[tuple[Named, ...], tuple[str, ...]]:
    """HiDP-v0's split instances and every model any of them streams (the env scores them all).
    Every instance of a split has the same stream count and request count (one observation size,
    one episode length)."""
    _, items = split_items(split, instance, "splitgym/HiDP-v0")
    shapes = {(len(i.value.models), i.value.requests) for i in items}
    if len(shapes) != 1:
        raise EnvArgumentError(f"split: {split} mixes stream/request counts {sorted(shapes)}")
    return items, tuple(sorted({m for i in items for m in i.value.models}))


def hidp_episode(item: Named) -> tuple[list[str], list[float], list[tuple[float, int]], float]:
    """One HiDP instance's episode: its models, rates, arrivals (from its own seed) and start."""
    from splitgym.envs.hidp_streams import poisson_arrivals

    inst: HiDPInstance = item.value
    arrivals = poisson_arrivals(np.random.default_rng(inst.arrival_seed), inst.rates, inst.requests)
    return list(inst.models), list(inst.rates), arrivals, inst.start
