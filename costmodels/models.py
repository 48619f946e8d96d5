"""Randomly initialised torchvision CNNs by name.

No weights can be downloaded here and none are needed: latency and the exactness of a split do not
depend on the values of the weights. Models are built under a fixed seed so that every process
(profiler, executor workers, tests) builds bit-identical parameters.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from splitgym.costmodels.errors import UnsupportedModelError
from splitgym.costmodels.nodynamo import without_dynamo
from splitgym.costmodels.zoo import EXCLUDED, ZOO, ZOO_INPUT

__all__ = [
    "build_model",
    "available_models",
    "DEFAULT_INPUT",
    "is_model_spec",
    "model_factory",
    "resolve_model_spec",
    "torchvision_module",
]

#: Models whose input size differs from the usual 224.
DEFAULT_INPUT: dict[str, int] = {"inception_v3": 299, **ZOO_INPUT}

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


def torchvision_module(path: str) -> ModuleType:
    """``torchvision.<path>`` (e.g. ``models.detection.ssd``), imported the way :func:`_torchvision`
    imports torchvision, for the zoo's models built from torchvision's blocks."""
    _torchvision()
    return importlib.import_module(f"torchvision.{path}")


def available_models() -> list[str]:
    """Every torchvision classification model name and the zoo's (DistrEdge's detection and pose
    models, :mod:`splitgym.costmodels.zoo`); the tested set is in the README."""
    torchvision = _torchvision()
    return sorted([*torchvision.models.list_models(module=torchvision.models), *ZOO])


def is_model_spec(name: str) -> bool:
    """Whether ``name`` names a user's model (``path/to/file.py:factory`` or ``package.module:factory``)
    rather than a torchvision one: torchvision names never hold a colon."""
    return ":" in name


def resolve_model_spec(name: str) -> str:
    """``name`` with a file path made absolute, so that the plan that records it rebuilds the same
    module from any working folder and in every executor rank; other names pass through."""
    if not is_model_spec(name):
        return name
    where, _, factory = name.rpartition(":")
    if where.endswith(".py"):
        path = Path(where).expanduser()
        if not path.is_file():
            raise UnsupportedModelError(
                f"model: no such file {where!r} (in {name!r}; expected path/to/file.py:factory)"
            )
        return f"{path.resolve()}:{factory}"
    return name


def _load_file(path: str) -> ModuleType:
    """Import a model file once per process under a name derived from its path (two files called
    ``model.py`` in different folders stay two modules)."""
    key = "splitgym_user_model_" + str(abs(hash(path)))
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, path)
        if spec is None or spec.loader is None:
            raise UnsupportedModelError(f"model: cannot import {path!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[key]
            raise UnsupportedModelError(f"model: importing {path!r} failed ({type(exc).__name__}: {exc})") from None
    return sys.modules[key]


def model_factory(name: str) -> Any:
    """The callable a model spec names (``file.py:factory`` or ``package.module:factory``)."""
    where, _, attr = resolve_model_spec(name).rpartition(":")
    if not where or not attr:
        raise UnsupportedModelError(f"model: expected path/to/file.py:factory or package.module:factory, got {name!r}")
    if where.endswith(".py"):
        module = _load_file(where)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise UnsupportedModelError(f"model: cannot import {where!r} ({exc})") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise UnsupportedModelError(f"model: {where!r} has no callable {attr!r} (in {name!r})")
    return fn


def _build_custom(name: str, seed: int, meta: bool) -> nn.Module:
    """A user's model: the factory called under ``seed`` (every rank builds the same weights)."""
    fn = model_factory(name)
    if meta:
        try:
            with warnings.catch_warnings(), torch.device("meta"), without_dynamo():
                warnings.simplefilter("ignore")
                return _called(fn, name).eval()
        except UnsupportedModelError:  # it reads tensor values, or fails anyway: build it for real
            pass
    torch.manual_seed(seed)
    return _called(fn, name).eval()


def _called(fn: Any, name: str) -> nn.Module:
    """The factory's module; whatever it raises or returns instead is one line naming the spec."""
    try:
        module = fn()
    except Exception as exc:
        raise UnsupportedModelError(f"model: {name!r} failed ({type(exc).__name__}: {exc})") from None
    if not isinstance(module, nn.Module):
        raise UnsupportedModelError(f"model: {name!r} returned {type(module).__name__}, not a torch.nn.Module")
    return module


def build_model(name: str, seed: int = 0, meta: bool = False) -> nn.Module:
    """A torchvision classifier (or a zoo model: ``yolov2``, ``ssd300_vgg16``, ...) in eval mode
    with seeded random weights.

    ``meta``: the same modules with shape-only parameters on the ``meta`` device (no memory, no
    random init, ~20x faster), for tracing; ``build_model(name, seed)`` gives the weights when
    something has to run. A model whose constructor reads tensor values (RegNet) cannot be built
    on the meta device: it gets its real weights instead. ``name`` may also be a model spec
    (``path/to/file.py:factory``, ``package.module:factory``): the factory, called with no
    arguments under the same seed."""
    if is_model_spec(name):
        return _build_custom(name, seed, meta)
    if name in ZOO:  # DistrEdge's detection and pose models (costmodels/zoo): built like a user's factory
        return _build_custom(ZOO[name], seed, meta)
    if name in EXCLUDED:
        raise UnsupportedModelError(f"model: {EXCLUDED[name]}")
    torchvision = _torchvision()
    if name not in available_models():
        raise UnsupportedModelError(
            f"model: unknown torchvision model {name!r} "
            "(try vgg16, resnet50, mobilenet_v2, or your own: path/to/file.py:factory)"
        )
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
