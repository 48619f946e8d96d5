"""The ``msmdi-v1`` split family (``python -m splitgym.experiments.make_splits --family msmdi-v1``).

Every instance is the ``ms-mdi-3-small`` scenario (VGG-11 at 64 px on three TX2s, sources on
workers 0 and 1, 100 + 200 images) with drawn arrival rates, worker count and arrivals seed:

* ``train`` -- 16 draws: source rates uniform in 3-7 and 7-13 images/s, all 3 workers;
* ``val`` -- 4 more draws of the same distribution;
* ``test`` -- 6 held out: ``cluster`` (2 instances with worker 2 absent: only the two sources
  serve), ``rates`` (4 instances at 8-12 and 15-25 images/s: the ring overloaded, train never is
  this loaded).

The model is not an axis here: every instance of a split shares one scenario (the observation's
size is the scenario's), and the shipped scenarios of that size differ only in their model, which
changes the per-image time; that is what the rates axis already scales.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FAMILY", "ENV_ID", "KIND", "MAX_DEVICES", "DESCRIPTIONS", "build_parts"]

FAMILY, ENV_ID, KIND, MAX_DEVICES = "msmdi-v1", "splitgym/MSMDI-v1", "msmdi", 3
SCENARIO = "ms-mdi-3-small"
TRAIN_RATES = ((3.0, 7.0), (7.0, 13.0))
HIGH_RATES = ((8.0, 12.0), (15.0, 25.0))
DESCRIPTIONS = {
    "train": "16 draws on ms-mdi-3-small: rates 3-7 and 7-13 images/s, 3 workers, own arrivals seed",
    "val": "4 more draws of train's distribution (in distribution)",
    "test": "6 held out: 2 clusters (worker 2 absent), 4 rate regimes (8-12 and 15-25 images/s)",
}


def _draw(rng: np.random.Generator, rates: tuple[tuple[float, float], ...], workers: int) -> dict[str, Any]:
    r = [round(float(rng.uniform(lo, hi)), 3) for lo, hi in rates]
    seed = int(rng.integers(2**31 - 1))
    name = f"{SCENARIO}-{'+'.join(f'{x:g}' for x in r)}ips-w{workers}-s{seed % 10_000}"
    return {"name": name, "scenario": SCENARIO, "rates": r, "workers": workers, "arrival_seed": seed}


def build_parts(seed: int = 18) -> dict[str, list[tuple[dict[str, Any], list[str]]]]:
    """The three parts (seeded: the same files every time)."""
    rng = np.random.default_rng(seed)
    train = [(_draw(rng, TRAIN_RATES, 3), []) for _ in range(16)]
    val = [(_draw(rng, TRAIN_RATES, 3), []) for _ in range(4)]
    test = [(_draw(rng, TRAIN_RATES, 2), ["cluster"]) for _ in range(2)]
    test += [(_draw(rng, HIGH_RATES, 3), ["rates"]) for _ in range(4)]
    return {"train": train, "val": val, "test": test}
