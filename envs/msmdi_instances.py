"""MSMDI-v1's instances: the arrival rates and worker count drawn at every ``reset`` from a seeded
distribution, so one policy faces many queue set-ups rather than the one it was trained on.

A distribution is a mapping (``env.instances`` in the config), every key optional:

* ``rates``: per source a ``[low, high]`` range of images/s drawn uniformly (a single number:
  fixed); default the scenario's rates;
* ``workers``: a list of worker counts drawn uniformly; a count ``n`` keeps the first ``n``
  workers of the scenario's device group alive and the rest absent (the simulator's ``alive``
  flags: they own no stage and serve nothing; the observation still has their slots, with alive
  0, so the observation and action keep one size up to the group's size). Every source must be
  among the first ``n``. Default the whole group.

``None`` (the default) is the one-point distribution: every reset gives the scenario itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.stages.queue_sim import QueueSystem

__all__ = ["InstanceDistribution"]


def _range(value: Any, where: str) -> tuple[float, float]:
    """A ``[low, high]`` range (or one number) of positive rates."""
    vals = [value, value] if isinstance(value, (int, float)) else list(value) if isinstance(value, Sequence) else None
    if vals is None or len(vals) != 2 or not all(isinstance(v, (int, float)) and v > 0 for v in vals):
        raise ConfigError(f"{where}: expected a rate > 0 or [low, high] with 0 < low <= high, got {value!r}")
    lo, hi = float(vals[0]), float(vals[1])
    if lo > hi:
        raise ConfigError(f"{where}: expected low <= high, got {value!r}")
    return lo, hi


@dataclass(frozen=True)
class InstanceDistribution:
    """Per-source rate ranges and the worker counts to draw from (see the module docstring)."""

    rates: tuple[tuple[float, float], ...]
    workers: tuple[int, ...]

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None, system: QueueSystem) -> InstanceDistribution:
        """Checked against ``system`` (the scenario's): one range per source, counts that keep
        every source alive; an unknown key is a one-line error."""
        cfg = dict(cfg or {})
        unknown = sorted(set(cfg) - {"rates", "workers"})
        if unknown:
            raise ConfigError(f"instances.{unknown[0]}: not a distribution key (known: rates, workers)")
        S, N = len(system.sources), system.N
        raw_rates = cfg.get("rates")
        if raw_rates is None:
            rates = tuple((r, r) for r in system.rates)
        elif not isinstance(raw_rates, Sequence) or len(raw_rates) != S:
            raise ConfigError(f"instances.rates: expected one range per source ({S}), got {raw_rates!r}")
        else:
            rates = tuple(_range(v, f"instances.rates.{i}") for i, v in enumerate(raw_rates))
        workers = tuple(cfg.get("workers") or (N,))
        least = max(system.sources) + 1
        bad = [w for w in workers if not isinstance(w, int) or isinstance(w, bool) or not least <= w <= N]
        if bad:
            raise ConfigError(f"instances.workers: counts must be in {least}..{N} (every source alive), got {bad[0]!r}")
        return cls(rates, workers)

    @property
    def fixed(self) -> bool:
        return all(lo == hi for lo, hi in self.rates) and len(set(self.workers)) == 1

    def draw(self, rng: np.random.Generator, system: QueueSystem) -> QueueSystem:
        """One instance: ``system`` with drawn rates and the first ``n`` workers alive."""
        rates = [float(rng.uniform(lo, hi)) if hi > lo else lo for lo, hi in self.rates]
        n = int(self.workers[rng.integers(len(self.workers))]) if len(self.workers) > 1 else self.workers[0]
        alive = [i < n for i in range(system.N)]
        return replace(system, rates=rates, alive=alive, meta={**system.meta, "rates": rates, "workers": n})
