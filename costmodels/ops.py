"""What each traced operation means for spatial splitting.

Every fx node falls into one of three kinds, and that kind alone decides how a range of its
output rows (or columns) maps back to the input it needs:

* ``WINDOW``: convolutions and pooling. Output row ``o`` reads input rows
  ``[o*s - p, o*s - p + d*(k-1)]``; ranges are clipped to the tensor and the clipped-off part is
  the true border, the only place padding is applied.
* ``POINTWISE``: element-wise maps, batch norm in eval mode, channel concatenation, residual
  additions: output rows ``[a, b)`` need the same rows of every spatial input (a broadcast input
  of height 1 is needed whole).
* ``FULL``: anything whose output row depends on every input row (adaptive/global pooling,
  flatten, linear layers, and any operation we do not know). Giving it the whole input is always
  exact, so unknown operations are never wrong, only unsplittable.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.fx import GraphModule, Node

__all__ = ["OpKind", "Window", "NodeOp", "classify"]


class OpKind(enum.Enum):
    WINDOW = "window"
    POINTWISE = "pointwise"
    FULL = "full"


@dataclass(frozen=True)
class Window:
    """A sliding window over (height, width): kernel, stride, padding before/after, dilation."""

    op: str  # "conv" | "maxpool" | "avgpool"
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad_lo: tuple[int, int]
    pad_hi: tuple[int, int]
    dilation: tuple[int, int] = (1, 1)
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: int | None = None

    def span(self, axis: int) -> int:
        """Rows (or columns) one output element reads: d*(k-1)+1."""
        return self.dilation[axis] * (self.kernel[axis] - 1) + 1


@dataclass(frozen=True)
class NodeOp:
    """A node's splitting kind, its window (for WINDOW nodes) and a short layer kind name."""

    kind: OpKind
    layer_kind: str
    window: Window | None = None
    module: nn.Module | None = None


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return (int(v[0]), int(v[-1]))
    return (int(v), int(v))


_POINTWISE_MODULES: tuple[type[nn.Module], ...] = (
    nn.BatchNorm2d,
    nn.ReLU,
    nn.ReLU6,
    nn.SiLU,
    nn.Sigmoid,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.LeakyReLU,
    nn.GELU,
    nn.Tanh,
    nn.ELU,
    nn.Identity,
    nn.Dropout,
    nn.Dropout2d,
)

_POINTWISE_FUNCTIONS: set[Any] = {
    operator.add,
    operator.mul,
    operator.iadd,
    operator.imul,
    torch.add,
    torch.mul,
    torch.relu,
    torch.sigmoid,
    F.relu,
    F.relu6,
    F.silu,
    F.hardswish,
    F.hardsigmoid,
    F.sigmoid,
    F.dropout,
    F.gelu,
}

_POINTWISE_METHODS = {"relu", "relu_", "sigmoid", "add", "add_", "mul", "mul_", "contiguous"}


def _is_stochastic_depth(fn: Any) -> bool:
    return getattr(fn, "__name__", "") == "stochastic_depth" and "torchvision" in getattr(fn, "__module__", "")


def _conv_window(m: nn.Conv2d) -> Window | None:
    if m.padding_mode != "zeros":
        return None
    # [left, right, top, bottom]: torch's own record of the (possibly asymmetric) padding.
    left, right, top, bottom = m._reversed_padding_repeated_twice  # noqa: SLF001
    return Window(
        op="conv",
        kernel=_pair(m.kernel_size),
        stride=_pair(m.stride),
        pad_lo=(top, left),
        pad_hi=(bottom, right),
        dilation=_pair(m.dilation),
    )


def _pool_window(op: str, kw: dict[str, Any]) -> Window | None:
    kernel = _pair(kw["kernel_size"])
    stride = kw.get("stride")
    stride = kernel if stride in (None, [], ()) else _pair(stride)
    pad = _pair(kw.get("padding", 0))
    if kw.get("return_indices", False):
        return None
    return Window(
        op=op,
        kernel=kernel,
        stride=stride,
        pad_lo=pad,
        pad_hi=pad,
        dilation=_pair(kw.get("dilation", 1)) if op == "maxpool" else (1, 1),
        ceil_mode=bool(kw.get("ceil_mode", False)),
        count_include_pad=bool(kw.get("count_include_pad", True)),
        divisor_override=kw.get("divisor_override"),
    )


def _normalized_kwargs(node: Node, root: GraphModule) -> dict[str, Any] | None:
    norm = node.normalized_arguments(root, normalize_to_only_use_kwargs=True)
    return None if norm is None else dict(norm.kwargs)


def classify(node: Node, root: GraphModule) -> NodeOp:
    """The splitting kind of one fx node of ``root``."""
    if node.op == "call_module":
        m = root.get_submodule(str(node.target))
        if isinstance(m, nn.Conv2d):
            w = _conv_window(m)
            return NodeOp(OpKind.WINDOW, "conv", w, m) if w else NodeOp(OpKind.FULL, "conv", None, m)
        if isinstance(m, nn.MaxPool2d):
            w = _pool_window("maxpool", vars(m))
            return NodeOp(OpKind.WINDOW if w else OpKind.FULL, "maxpool", w, m)
        if isinstance(m, nn.AvgPool2d):
            w = _pool_window("avgpool", vars(m))
            return NodeOp(OpKind.WINDOW if w else OpKind.FULL, "avgpool", w, m)
        if isinstance(m, _POINTWISE_MODULES):
            return NodeOp(OpKind.POINTWISE, type(m).__name__.lower(), None, m)
        if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            return NodeOp(OpKind.FULL, "adaptive_pool", None, m)
        if isinstance(m, nn.Linear):
            return NodeOp(OpKind.FULL, "linear", None, m)
        if isinstance(m, nn.Flatten):
            return NodeOp(OpKind.FULL, "flatten", None, m)
        return NodeOp(OpKind.FULL, type(m).__name__.lower(), None, m)
    if node.op == "call_function":
        fn = node.target
        if fn in (F.max_pool2d, F.avg_pool2d):
            kw = _normalized_kwargs(node, root)
            name = "maxpool" if fn is F.max_pool2d else "avgpool"
            w = _pool_window(name, kw) if kw is not None else None
            return NodeOp(OpKind.WINDOW if w else OpKind.FULL, name, w)
        if fn is torch.cat:
            dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
            return NodeOp(OpKind.POINTWISE if dim in (1, -3) else OpKind.FULL, "concat")
        if fn in _POINTWISE_FUNCTIONS or _is_stochastic_depth(fn):
            name = getattr(fn, "__name__", str(fn))
            return NodeOp(OpKind.POINTWISE, "add" if name in ("add", "iadd") else name)
        name = getattr(fn, "__name__", str(fn))
        if name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
            name = "adaptive_pool"
        return NodeOp(OpKind.FULL, name)
    if node.op == "call_method":
        kind = OpKind.POINTWISE if node.target in _POINTWISE_METHODS else OpKind.FULL
        return NodeOp(kind, str(node.target))
    return NodeOp(OpKind.FULL, node.op)


def run_window(
    w: Window,
    node_fn: Callable[..., torch.Tensor] | None,
    module: nn.Module | None,
    x: torch.Tensor,
    pads: tuple[int, int, int, int],
) -> torch.Tensor:
    """Apply a window op to an input slice, padding only the given sides.

    ``pads`` is (top, bottom, left, right): the true-border padding this slice needs. The op then
    runs without padding of its own, so a slice away from the border is never zero-padded.
    """
    top, bottom, left, right = pads
    if w.op == "conv":
        assert isinstance(module, nn.Conv2d)
        if top == bottom and left == right:
            return F.conv2d(x, module.weight, module.bias, w.stride, (top, left), w.dilation, module.groups)
        x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, module.weight, module.bias, w.stride, 0, w.dilation, module.groups)
    if w.op == "maxpool":
        if any(pads):
            x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        return F.max_pool2d(x, w.kernel, w.stride, 0, w.dilation, ceil_mode=False)
    # avgpool: torch divides by the window's size counted inside [-p, H+p) (with or without the
    # padding); reproduce that divisor exactly from a mask where it can differ from k*k.
    k = w.kernel[0] * w.kernel[1]
    if not any(pads):
        out = F.avg_pool2d(x, w.kernel, w.stride, 0)
        return out if w.divisor_override is None else out * (k / w.divisor_override)
    xp = F.pad(x, (left, right, top, bottom))
    inside_pad = all(p <= lim for p, lim in zip(pads, (w.pad_lo[0], w.pad_hi[0], w.pad_lo[1], w.pad_hi[1])))
    if w.divisor_override is None and w.count_include_pad and inside_pad:
        return F.avg_pool2d(xp, w.kernel, w.stride, 0)
    sums = F.avg_pool2d(xp, w.kernel, w.stride, 0) * k
    if w.divisor_override is not None:
        return sums / w.divisor_override
    h, wd = x.shape[-2:]
    mask = torch.ones((1, 1, h, wd), dtype=x.dtype, device=x.device)
    # padding inside [-p, H+p) counts when count_include_pad; overhang beyond it never does
    pad_in = [min(p, lim) for p, lim in zip(pads, (w.pad_lo[0], w.pad_hi[0], w.pad_lo[1], w.pad_hi[1]))]
    fill = 1.0 if w.count_include_pad else 0.0
    mask = F.pad(mask, (pad_in[2], pad_in[3], pad_in[0], pad_in[1]), value=fill)
    mask = F.pad(mask, (left - pad_in[2], right - pad_in[3], top - pad_in[0], bottom - pad_in[1]))
    counts = F.avg_pool2d(mask, w.kernel, w.stride, 0) * k
    return sums / counts
