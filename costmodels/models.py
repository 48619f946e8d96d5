"""Randomly initialised torchvision CNNs by name.

No weights can be downloaded here and none are needed: latency and the exactness of a split do not
depend on the values of the weights. Models are built under a fixed seed so that every process
(profiler, executor workers, tests) builds bit-identical parameters.
"""

from __future__ import annotations

import sys
import warnings
from types import ModuleType

import torch
from torch import nn

from splitgym.costmodels.errors import UnsupportedModelError
from splitgym.costmodels.nodynamo import without_dynamo

__all__ = ["build_model", "available_models", "DEFAULT_INPUT"]

#: Models whose input size differs from the usual 224.
DEFAULT_INPUT: dict[str, int] = {"inception_v3": 299}

_EXTRA_KWARGS: dict[str, dict[str, object]] = {
    "inception_v3": {"aux_logits": False, "init_weights": False},
    "googlenet": {"aux_logits": False, "init_weights": False},
}


def _torchvision() -> ModuleType:
    """``import torchvision`` without the ``torch._dynamo`` it imports (see :mod:`nodynamo`)."""
    if "torchvision" not in sys.modules:
        with without_dynamo():
            import torchvision  # noqa: F401
    return sys.modules["torchvision"]


def available_models() -> list[str]:
    """Every torchvision classification model name (the tested set is in the README)."""
    torchvision = _torchvision()
    return sorted(torchvision.models.list_models(module=torchvision.models))


def build_model(name: str, seed: int = 0, meta: bool = False) -> nn.Module:
    """A torchvision classifier in eval mode with seeded random weights.

    ``meta``: the same modules with shape-only parameters on the ``meta`` device (no memory, no
    random init, ~20x faster), for tracing; ``build_model(name, seed)`` gives the weights when
    something has to run. A model whose constructor reads tensor values (RegNet) cannot be built
    on the meta device: it gets its real weights instead."""
    torchvision = _torchvision()
    if name not in available_models():
        raise UnsupportedModelError(f"model: unknown torchvision model {name!r} (try vgg16, resnet50, mobilenet_v2)")
    kwargs = _EXTRA_KWARGS.get(name, {})
    if meta:
        try:
            with warnings.catch_warnings(), torch.device("meta"), without_dynamo():
                warnings.simplefilter("ignore")
                return torchvision.models.get_model(name, weights=None, **kwargs).eval()
        except (NotImplementedError, RuntimeError):  # "Cannot copy out of meta tensor": build it for real
            pass
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = torchvision.models.get_model(name, weights=None, **kwargs)
    return model.eval()
