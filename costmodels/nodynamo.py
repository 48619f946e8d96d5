"""Shape-level torch work without importing ``torch._dynamo`` (~1 s: with triton and torch.distributed,
half of a ``splitgym plan``) for code that never compiles anything.

Two places import it for nothing: torchvision imports ``torch._dynamo.utils.is_compile_supported``
(called only by ``roi_align``), and torch's Python meta kernels (``addmm``, ``cat``, element-wise
references: what a meta-device trace runs) call ``torch._dynamo.disable(fn)`` on first use, which
outside ``torch.compile`` is plain ``fn``. :func:`without_dynamo` lends both a stand-in for the
length of a ``with`` block and leaves no trace of it: the stand-in modules leave ``sys.modules``,
and the per-function cache torch keeps (``fn.__dynamo_disable``) is cleared again, so a later
``torch.compile`` imports and uses the real ``torch._dynamo`` exactly as if this had not run.
With ``torch._dynamo`` already imported it does nothing.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import torch

__all__ = ["without_dynamo"]


def _is_compile_supported(device_type: str) -> bool:
    from torch._dynamo.utils import is_compile_supported  # the real one, when roi_align asks

    return is_compile_supported(device_type)


@contextlib.contextmanager
def without_dynamo() -> Iterator[None]:
    """A stand-in ``torch._dynamo`` (``disable``, ``utils.is_compile_supported``) inside the block."""
    if "torch._dynamo" in sys.modules:
        yield
        return
    passed: list[Callable[..., Any]] = []

    def disable(fn: Callable[..., Any], recursive: bool = True, wrapping: bool = True) -> Callable[..., Any]:
        passed.append(fn)
        return fn

    dynamo, utils = ModuleType("torch._dynamo"), ModuleType("torch._dynamo.utils")
    utils.is_compile_supported = _is_compile_supported  # type: ignore[attr-defined]
    dynamo.utils = utils  # type: ignore[attr-defined]
    dynamo.disable = disable  # type: ignore[attr-defined]
    stand_ins = {"torch._dynamo": dynamo, "torch._dynamo.utils": utils}
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
        if vars(torch).get("_dynamo") is dynamo:
            delattr(torch, "_dynamo")
        for fn in passed:
            if getattr(fn, "__dynamo_disable", None) is fn:
                delattr(fn, "__dynamo_disable")
