"""How a GPU runs a unit: launch floors, waves of thread blocks, and a memory bound.

A GPU board's latency is not the CPU's smooth curve scaled: every op is a kernel launch, and a
kernel's work is cut into thread blocks that run in *waves* over the streaming multiprocessors
(SMs), so a part with a few rows costs as much as one full wave and latency is flat at small
heights, then steps each time another wave is needed. This module turns a unit's layers (kinds,
channels, kernels and shapes from :class:`~splitgym.costmodels.graph.ModelGraph`) into seconds
for ``rows`` output rows (x ``cols`` columns) on a :class:`GpuSpec`, per kernel::

    t_kernel = launch_s + max(compute, memory)
    compute  = waves * blocks_per_sm * 2*tile_m*tile_n*K / (sm_flops * efficiency)      (GEMM ops)
    waves    = ceil(blocks / (sms * blocks_per_sm)),   blocks = groups * ceil(M/tile_m) * ceil(N/tile_n')
    memory   = bytes / (bandwidth * mem_efficiency)

A convolution is an implicit GEMM (as cuDNN and TensorRT run it): M = output pixels of the part
(rows x cols), N = output channels per group, K = input channels per group x kernel area; a
linear layer is the same with M = 1. ``tile_n' = min(tile_n, next power of two >= N)``, because a
library picks a narrower tile for few channels (a depthwise conv's N is 1); likewise a linear
layer's M (the batch, 1: a GEMV). A conv keeps ``tile_m`` whatever the part's height: that is
what makes a few-row part pay a whole tile. Each SM does the whole
tile's FLOPs of ``blocks_per_sm`` blocks per wave, so a half-empty last wave costs a full one.
Every other op with a tensor output (pooling, activations, batch norm, additions, concatenation,
adaptive pooling) is a memory-bound kernel: bytes read and written over the bandwidth. Reshapes
and eval-mode dropout launch nothing. Bytes are the part's input rows (with their halo), output
rows and weights at the spec's precision. A unit sums its kernels; each layer of a unit computes
``ceil(rows x H_layer / H_unit)`` of its own rows (the halo a block's inner layers recompute is
left out). PyTorch eager, what ``splitgym profile --device cuda`` measures, runs activations as
kernels of their own; TensorRT would fuse them into the conv (a smaller launch count): the
calibration absorbs part of that difference in ``launch_s``.

Free parameters (:class:`GpuShapeParams`), uncalibrated until a GPU run
(``python -m splitgym.experiments.calibrate_gpu_shape``) fits them to CUDA profiles:

* ``launch_s`` (10 us): the floor of one kernel: launch, scheduling and the tail of an almost
  empty kernel; NVIDIA quotes ~5 us launch latency on desktop GPUs, more on Jetson's ARM cores.
* ``efficiency`` (0.5, ``boards.GPU_EFFICIENCY``): fraction of an SM's peak a busy block reaches.
* ``mem_efficiency`` (0.7): fraction of the memory bandwidth a streaming kernel reaches.
* ``tile_m`` x ``tile_n`` (128 x 64) and ``blocks_per_sm`` (1): the GEMM tile and occupancy, a
  common cuDNN/CUTLASS implicit-GEMM configuration; discrete, so the calibration picks them from
  a candidate list.

The SM count, clock, FLOP per SM per cycle and bandwidth are the board's public figures
(:mod:`boards`); derived boards use FP16 (DistrEdge runs TensorRT FP16 on its Jetsons).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from splitgym.costmodels.boards import GPU_EFFICIENCY, Board
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import Layer, ModelGraph

__all__ = [
    "GpuSpec",
    "GpuShapeParams",
    "KernelTerms",
    "unit_terms",
    "head_terms",
    "gpu_seconds",
    "gpu_tables",
    "MODEL_NAME",
]

MODEL_NAME = "gpu-shape/waves-v1"
_NO_KERNEL = {"flatten", "dropout", "identity", "stochastic_depth"}  # views or eval-mode no-ops
_GEMM = {"conv", "linear"}


@dataclass(frozen=True)
class GpuSpec:
    """The figures of one GPU the model needs, at one precision."""

    name: str
    sms: int
    clock_ghz: float
    flop_per_sm_cycle: float
    bandwidth_gbs: float
    dtype_bytes: int

    @property
    def sm_flops(self) -> float:
        """Peak FLOP/s of one SM at this precision."""
        return self.flop_per_sm_cycle * self.clock_ghz * 1e9

    @classmethod
    def of_board(cls, b: Board, precision: Literal["fp16", "fp32"] = "fp16") -> GpuSpec:
        if b.processor != "gpu" or b.sm_count is None:
            raise ConfigError(f"board: {b.name!r} is not a GPU board with SM figures (a {b.processor} board)")
        rate = b.fp16_flop_per_sm_cycle if precision == "fp16" else b.fp32_flop_per_sm_cycle
        assert rate is not None and b.boost_clock_ghz is not None and b.mem_bandwidth_gbs is not None
        return cls(b.name, b.sm_count, b.boost_clock_ghz, rate, b.mem_bandwidth_gbs, 2 if precision == "fp16" else 4)


@dataclass(frozen=True)
class GpuShapeParams:
    """The model's free parameters (see the module docstring for each default's reason)."""

    launch_s: float = 10e-6
    efficiency: float = GPU_EFFICIENCY
    mem_efficiency: float = 0.7
    tile_m: int = 128
    tile_n: int = 64
    blocks_per_sm: int = 1

    def __post_init__(self) -> None:
        for key in ("launch_s", "efficiency", "mem_efficiency", "tile_m", "tile_n", "blocks_per_sm"):
            value = getattr(self, key)
            if not value > 0:
                raise ConfigError(f"gpu_shape.{key}: must be > 0, got {value!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class KernelTerms:
    """Per kernel (axis 0) and per queried region (axis 1): the compute seconds at efficiency 1,
    the memory seconds at mem_efficiency 1, and whether the kernel runs (the part is not empty).

    The latency is linear in (launch_s, 1/efficiency, 1/mem_efficiency) once it is known which of
    compute and memory binds each kernel: what the calibration's least squares exploits."""

    compute: np.ndarray
    memory: np.ndarray
    runs: np.ndarray

    def seconds(self, p: GpuShapeParams) -> np.ndarray:
        busy = np.maximum(self.compute / p.efficiency, self.memory / p.mem_efficiency)
        return ((p.launch_s + busy) * self.runs).sum(axis=0)


def _pow2_tile(tile: int, size: int) -> int:
    return min(tile, 1 << max(0, math.ceil(math.log2(max(size, 1)))))


def _gemm_compute(
    m: np.ndarray, n: int, k: int, groups: int, spec: GpuSpec, p: GpuShapeParams, fixed_m: bool
) -> np.ndarray:
    """Waves x per-wave seconds of an (M x N x K) GEMM per group; a GEMM whose M does not grow
    with the part (a linear layer at batch 1) gets a tile narrowed to it, as N always does."""
    tile_m = _pow2_tile(p.tile_m, int(m.max())) if fixed_m else p.tile_m
    tile_n = _pow2_tile(p.tile_n, n)
    blocks = groups * np.ceil(m / tile_m) * math.ceil(n / tile_n)
    waves = np.ceil(blocks / (spec.sms * p.blocks_per_sm))
    return waves * p.blocks_per_sm * (2.0 * tile_m * tile_n * k) / spec.sm_flops


def _layer_terms(
    layer: Layer, rows: np.ndarray, cols: np.ndarray, spec: GpuSpec, p: GpuShapeParams
) -> tuple[np.ndarray, np.ndarray]:
    """Compute and memory seconds of one layer producing ``rows`` x ``cols`` of its output."""
    out, inp = layer.out_shape, layer.in_shape
    bw = spec.bandwidth_gbs * 1e9
    if len(out) == 4:
        out_px = rows * cols
        stride, kernel, dil = layer.stride or (1, 1), layer.kernel or (1, 1), layer.dilation or (1, 1)
        # input rows one more output row needs beyond its stride: the window's span minus the stride
        window = layer.split == "window"
        span = tuple(d * (k - 1) + 1 - st for d, k, st in zip(dil, kernel, stride)) if window else (0, 0)
        if len(inp) == 4:
            in_px = np.minimum(inp[2], rows * stride[0] + max(span[0], 0)) * np.minimum(
                inp[3], cols * stride[1] + max(span[1], 0)
            )
        else:
            in_px = np.full_like(rows, math.prod(inp[1:]))
        if layer.split == "full":  # global op (adaptive pooling): reads everything
            in_px = np.full_like(rows, math.prod(inp[2:]))
    else:
        out_px = np.ones_like(rows)
        in_px = np.ones_like(rows)
    c_in = inp[1] if len(inp) > 1 else 1
    c_out = out[1] if len(out) > 1 else 1
    weights = layer.params
    moved = spec.dtype_bytes * (in_px * c_in + out_px * c_out + weights)
    memory = moved / bw
    if layer.kind in _GEMM:
        kh, kw = layer.kernel or (1, 1)
        k = (c_in // layer.groups) * kh * kw
        compute = _gemm_compute(out_px, c_out // layer.groups, k, layer.groups, spec, p, layer.kind == "linear")
    else:
        compute = np.zeros_like(memory)
    return compute, memory


def _terms(
    layers: list[tuple[Layer, tuple[float, float]]],
    rows: np.ndarray,
    cols: np.ndarray,
    spec: GpuSpec,
    p: GpuShapeParams,
) -> KernelTerms:
    """Stack the kernels of ``layers`` (each with its height / the unit's height)."""
    rows = np.asarray(rows, dtype=float)
    cols = np.broadcast_to(np.asarray(cols, dtype=float), rows.shape)
    compute, memory = [], []
    for layer, scale in layers:
        h_l = layer.out_shape[2] if len(layer.out_shape) == 4 else 1
        w_l = layer.out_shape[3] if len(layer.out_shape) == 4 else 1
        r = np.clip(np.ceil(rows * scale[0]), 1, h_l)
        c = np.clip(np.ceil(cols * scale[1]), 1, w_l)
        cm, mm = _layer_terms(layer, r, c, spec, p)
        compute.append(cm)
        memory.append(mm)
    runs = np.broadcast_to((rows > 0) & (cols > 0), (len(layers), rows.size)).astype(float)
    shape = (len(layers), rows.size)
    return KernelTerms(np.reshape(compute, shape), np.reshape(memory, shape), runs)


def unit_terms(
    graph: ModelGraph,
    unit: int,
    rows: np.ndarray,
    spec: GpuSpec,
    params: GpuShapeParams | None = None,
    cols: np.ndarray | None = None,
) -> KernelTerms:
    """The kernels of ``graph``'s unit ``unit`` producing each of ``rows`` (x ``cols``; default
    full width) output rows. ``params`` only supplies the tile and occupancy here."""
    p = params or GpuShapeParams()
    u = graph.units[unit]
    _, h_u, w_u = u.out_shape
    layers = []
    for layer in graph.layers:
        if layer.unit == unit and layer.kind not in _NO_KERNEL and len(layer.out_shape) == 4:
            layers.append((layer, (layer.out_shape[2] / h_u, layer.out_shape[3] / w_u)))
    rows = np.atleast_1d(np.asarray(rows, dtype=float))
    return _terms(layers, rows, w_u if cols is None else cols, spec, p)


def head_terms(graph: ModelGraph, spec: GpuSpec, params: GpuShapeParams | None = None) -> KernelTerms:
    """The head's kernels at their full size (the head is never split)."""
    layers = [(layer, (1.0, 1.0)) for layer in graph.layers if layer.unit == -1 and layer.kind not in _NO_KERNEL]
    full = np.array([np.inf])  # every layer clips it to its own full height and width
    return _terms(layers, full, full, spec, params or GpuShapeParams())


def gpu_seconds(
    graph: ModelGraph,
    unit: int,
    rows: np.ndarray,
    spec: GpuSpec,
    params: GpuShapeParams | None = None,
    cols: np.ndarray | None = None,
) -> np.ndarray:
    """Seconds of unit ``unit`` for each of ``rows`` output rows on ``spec`` (0 rows -> 0 s)."""
    p = params or GpuShapeParams()
    return unit_terms(graph, unit, rows, spec, p, cols).seconds(p)


def gpu_tables(
    graph: ModelGraph, spec: GpuSpec, params: GpuShapeParams, widths: list[list[int]] | None = None
) -> tuple[list[tuple[list[int], list[int], list[list[float]]]], float]:
    """Every unit at every height 1..H (x each of ``widths[u]``, default the full width), and the
    head: a table at one-row granularity, so interpolation never smooths a step away."""
    tables = []
    for u in graph.units:
        _, h, w = u.out_shape
        ws = list(widths[u.index]) if widths is not None else [w]
        heights = np.arange(1, h + 1, dtype=float)
        cols = [gpu_seconds(graph, u.index, heights, spec, params, np.full_like(heights, c)) for c in ws]
        seconds = np.stack(cols, axis=1).tolist()
        tables.append((list(range(1, h + 1)), ws, seconds))
    head = float(head_terms(graph, spec, params).seconds(params)[0])
    return tables, head
