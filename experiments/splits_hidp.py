"""The ``hidp-v0`` split family (``python -m splitgym.experiments.make_splits --family hidp-v0``).

Every instance runs on ``hidp-dynamic`` (five nodes; the TX2 away from 20 s to 60 s, the Pi 5
from 40 s on), two streams, 32 requests, a start time uniform in the availability schedule's
0-80 s and its own arrivals seed:

* ``train`` -- 16 draws: streams Inception-v3 and VGG-19 at 8-20 and 4-10 requests/s;
* ``val`` -- 4 more draws of the same distribution;
* ``test`` -- 6 held out: ``model`` (2 with ResNet-50 for Inception-v3, 1 with ResNet-18 for
  VGG-19), ``rates`` (3 at 24-32 and 12-16 requests/s: twice train's mid rates).

The cluster is not an axis: a HiDP-v0 policy's observation and menu have one node count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FAMILY", "ENV_ID", "KIND", "MAX_DEVICES", "DESCRIPTIONS", "build_parts"]

FAMILY, ENV_ID, KIND, MAX_DEVICES = "hidp-v0", "splitgym/HiDP-v0", "hidp", 5
TRAIN_MODELS = ("inception_v3", "vgg19")
TRAIN_RATES = ((8.0, 20.0), (4.0, 10.0))
HIGH_RATES = ((24.0, 32.0), (12.0, 16.0))
REQUESTS, SPAN_S = 32, 80.0
DESCRIPTIONS = {
    "train": "16 draws on hidp-dynamic: inception_v3 + vgg19 at 8-20 and 4-10 req/s, 32 requests, start 0-80 s",
    "val": "4 more draws of train's distribution (in distribution)",
    "test": "6 held out: 3 models (resnet50 or resnet18 in a stream), 3 rate regimes (24-32 and 12-16 req/s)",
}


def _draw(rng: np.random.Generator, models: tuple[str, ...], rates: tuple[tuple[float, float], ...]) -> dict[str, Any]:
    r = [round(float(rng.uniform(lo, hi)), 3) for lo, hi in rates]
    start = round(float(rng.uniform(0.0, SPAN_S)), 3)
    seed = int(rng.integers(2**31 - 1))
    name = f"{'+'.join(models)}-{'+'.join(f'{x:g}' for x in r)}rps-t{start:g}-s{seed % 10_000}"
    return {
        "name": name,
        "models": list(models),
        "rates": r,
        "requests": REQUESTS,
        "start": start,
        "arrival_seed": seed,
    }


def build_parts(seed: int = 18) -> dict[str, list[tuple[dict[str, Any], list[str]]]]:
    """The three parts (seeded: the same files every time)."""
    rng = np.random.default_rng(seed)
    train = [(_draw(rng, TRAIN_MODELS, TRAIN_RATES), []) for _ in range(16)]
    val = [(_draw(rng, TRAIN_MODELS, TRAIN_RATES), []) for _ in range(4)]
    held = (("resnet50", "vgg19"), ("resnet50", "vgg19"), ("inception_v3", "resnet18"))
    test = [(_draw(rng, models, TRAIN_RATES), ["model"]) for models in held]
    test += [(_draw(rng, TRAIN_MODELS, HIGH_RATES), ["rates"]) for _ in range(3)]
    return {"train": train, "val": val, "test": test}
