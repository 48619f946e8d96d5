"""The random generators' states, saved with a checkpoint and restored on resume.

Why: SB3's ``load`` re-seeds Python's, NumPy's and torch's global generators with the run's seed,
and the action space's generator (the uniform warm-up actions), so a resumed run would draw its
warm-up actions, replay-buffer batches (NumPy) and exploration noise (our noise's own generator)
from the start of their sequences again, not where the killed run was.
Their states are plain JSON here (no pickle), so this part of a checkpoint is safe to read.
"""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
import torch

__all__ = ["capture", "restore"]


def _noise_rng(model: Any) -> Any:
    return getattr(getattr(model, "action_noise", None), "rng", None)


def capture(model: Any) -> bytes:
    """The states of Python's, NumPy's and torch's generators, of ``model``'s action space and of
    its noise's generator, as JSON."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    doc = {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), pos, has_gauss, cached],
        "torch": torch.get_rng_state().tolist(),
        "noise": None if _noise_rng(model) is None else _noise_rng(model).bit_generator.state,
        "action_space": model.action_space.np_random.bit_generator.state,
    }
    return json.dumps(doc).encode()


def restore(data: bytes, model: Any) -> None:
    """Put the generators back where :func:`capture` found them."""
    doc = json.loads(data)
    version, internal, gauss = doc["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = doc["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(torch.tensor(doc["torch"], dtype=torch.uint8))
    if _noise_rng(model) is not None and doc.get("noise") is not None:
        _noise_rng(model).bit_generator.state = doc["noise"]
    model.action_space.np_random.bit_generator.state = doc["action_space"]
