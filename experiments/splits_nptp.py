"""The ``nptp-v1`` split family (``python -m splitgym.experiments.make_splits --family nptp-v1``).

* ``train`` -- 16 draws: VGG-11 at 96 px or VGG-16 at 128 px, 3-5 devices of the ``nptp6`` pool
  (two each of Xavier, TX2, Nano with NPTP's activation-share caps) in random order, one link of
  0.8-8 Mbps (log-uniform), 2 ms per message: NPTP-v1's default space at sizes that plan in
  seconds here;
* ``val`` -- 4 more draws of the same distribution;
* ``test`` -- 6 held out, 2 per axis: ``model`` (VGG-13 at 96, VGG-19 at 128), ``cluster`` (all
  6 devices of the pool: train has at most 5), ``bandwidth`` (links of 20-40 Mbps: train's top
  is 8).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from splitgym.envs.nptp_instances import Instance, InstanceSpace

__all__ = ["FAMILY", "ENV_ID", "KIND", "MAX_DEVICES", "DESCRIPTIONS", "build_parts"]

FAMILY, ENV_ID, KIND, MAX_DEVICES = "nptp-v1", "splitgym/NPTP-v1", "nptp", 6
TRAIN = {"devices": "nptp6", "n_devices": [3, 5], "bandwidth_mbps": [0.8, 8.0], "latency_ms": 2.0}
MODELS = (("vgg11", 96), ("vgg16", 128))
DESCRIPTIONS = {
    "train": "16 draws: vgg11@96 or vgg16@128 on 3-5 of nptp6 (random order), one link of 0.8-8 Mbps",
    "val": "4 more draws of train's distribution (in distribution)",
    "test": "6 held out: 2 models (vgg13@96, vgg19@128), 2 clusters (all 6 devices), 2 bandwidths (20-40 Mbps)",
}


def _draw(space: dict[str, Any], models: tuple[tuple[str, int], ...], rng: np.random.Generator) -> Instance:
    model, size = models[int(rng.integers(len(models)))]
    return InstanceSpace.from_config({**space, "models": [model], "inputs": [size]}).draw(rng)


def _mapping(inst: Instance) -> dict[str, Any]:
    boards = "+".join(d["name"] for d in inst.devices)
    name = f"{inst.model}@{inst.input}-{boards}-{inst.bandwidth_mbps:.2f}mbps"
    return {
        "name": name,
        "model": inst.model,
        "input": inst.input,
        "devices": [dict(d) for d in inst.devices],
        "bandwidth_mbps": inst.bandwidth_mbps,
        "latency_ms": inst.latency_ms,
    }


def _draws(space: dict[str, Any], models, rng, n: int, seen: set[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < n:
        m = _mapping(_draw(space, models, rng))
        if m["name"] not in seen:
            seen.add(m["name"])
            out.append(m)
    return out


def build_parts(seed: int = 18) -> dict[str, list[tuple[dict[str, Any], list[str]]]]:
    """The three parts (seeded: the same files every time)."""
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    train = [(m, []) for m in _draws(TRAIN, MODELS, rng, 16, seen)]
    val = [(m, []) for m in _draws(TRAIN, MODELS, rng, 4, seen)]
    test = [
        (m, ["model"]) for models in ((("vgg13", 96),), (("vgg19", 128),)) for m in _draws(TRAIN, models, rng, 1, seen)
    ]
    test += [(m, ["cluster"]) for m in _draws({**TRAIN, "n_devices": [6, 6]}, MODELS, rng, 2, seen)]
    test += [(m, ["bandwidth"]) for m in _draws({**TRAIN, "bandwidth_mbps": [20.0, 40.0]}, MODELS, rng, 2, seen)]
    return {"train": train, "val": val, "test": test}
