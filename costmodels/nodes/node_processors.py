"""Processor-level figures of HiDP's five boards (HI Table II, L179-L183), and AGX Xavier so that
DistrEdge's groups also work: derived, not measured.

HiDP partitions work over a node's *processors* (CPU clusters, GPU), so one board figure
(``boards.py``) is not enough: each processor needs its own compute rate, power and the node its
intra-node transfer rate. The paper gives only the core types and counts (PAPERS-AUDIT A.6); every
number below is a public spec figure or general knowledge, with its arithmetic beside it, and every
profile made from them is labelled *derived*.

Choices where the paper is silent (each stated once, used everywhere):

* **Precision and runtime.** HiDP runs TensorFlow with CUDA on the Jetsons and OpenGL on the Pis
  (HI L189): fp32, not TensorRT fp16, so GPU peaks are the fp32 ones (half of the fp16 figures in
  ``boards.py``). Efficiency (fraction of peak reached) is one assumption per processor kind:
  ``EFFICIENCY`` below (Jetson GPUs under TF 0.3, CPUs 0.3 as in ``boards.py``, Pi GPUs through
  an OpenGL delegate 0.15); a sensitivity run passes its own figure per kind to
  :func:`board_processors` (``efficiency=``), which stores it on the specs it returns, so the
  table here stays the default and no run changes another's figures. With these, the TX2 GPU gets
  87 % of the node's rate, near the
  paper's best split on TX2 (P7: 80 % GPU / 20 % CPU, HI L49).
* **CPU FLOP/cycle/core (fp32 NEON):** Cortex-A57/A72 and Denver-2 8, Cortex-A76/A78 16
  (2 x 128-bit FMA pipes), as in ``boards.py``.
* **Core counts.** Table II says "2x" A76/A72 for the Pis; the boards have 4 (PAPERS-AUDIT A.6),
  and HiDP binds cores with cgroups, so "2x" may be what they bound. We model all 4 cores as one
  CPU cluster, as ``boards.py`` does; Orin NX keeps Table II's 8 cores (the 8 GB module has 6).
* **Power** (W, derived: typical figures for these modules under load, not measured): ``idle_w``
  is the node's floor while it is on, a processor's ``active_w`` is added while it computes.
* **Intra-node transfer** (HiDP's mu_k): the parts of a node share its DRAM, but a framework copy
  between processes or onto the GPU reaches only part of the DRAM bandwidth: we take
  ``INTRA_EFFICIENCY`` = 10 % of the spec bandwidth, plus ``INTRA_OVERHEAD_S`` per hand-off.
* **Default processor** (the TF default, HI L49 "P1"): the GPU on every board, since the paper's
  TF uses the GPU on Jetsons (CUDA) and Pis (OpenGL) alike. The baselines run there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from splitgym.costmodels.errors import ConfigError

__all__ = [
    "ProcessorSpec",
    "BoardProcessors",
    "PROCESSOR_BOARDS",
    "EFFICIENCY",
    "INTRA_EFFICIENCY",
    "INTRA_OVERHEAD_S",
    "board_processors",
]

#: fraction of peak a TF-style fp32 runtime reaches, per processor kind (assumption)
EFFICIENCY = {"cpu": 0.3, "gpu": 0.3, "gpu-gl": 0.15, "npu": 0.3, "board": 1.0}
INTRA_EFFICIENCY = 0.1
INTRA_OVERHEAD_S = 0.3e-3


@dataclass(frozen=True)
class ProcessorSpec:
    name: str
    kind: str  # "cpu" | "gpu" | "gpu-gl" | "npu" | "board" (a whole board, its board-level profile)
    peak_gflops: float
    active_w: float
    source: str
    #: fraction of peak reached; None: ``EFFICIENCY[kind]`` (set by a sensitivity run, so that it
    #: travels with the spec instead of changing the module's table for everyone)
    efficiency: float | None = None

    @property
    def effective_gflops(self) -> float:
        return self.peak_gflops * (EFFICIENCY[self.kind] if self.efficiency is None else self.efficiency)


@dataclass(frozen=True)
class BoardProcessors:
    board: str
    processors: tuple[ProcessorSpec, ...]
    dram_gbps: float  # GB/s spec
    idle_w: float
    default: str  # the processor a TF-default runtime uses
    source: str

    @property
    def intra_gbps(self) -> float:
        return self.dram_gbps * INTRA_EFFICIENCY


PROCESSOR_BOARDS: dict[str, BoardProcessors] = {
    b.board: b
    for b in [
        BoardProcessors(
            "orin-nx",
            (
                ProcessorSpec("cpu", "cpu", 256.0, 8.0, "8x Cortex-A78AE @ 2.0 GHz x 16 FLOP/cycle = 256 GFLOPS"),
                ProcessorSpec("gpu", "gpu", 1880.0, 12.0, "1024-core Ampere @ 918 MHz x 2 (FMA) = 1.88 TFLOPS fp32"),
            ),
            102.4,
            5.0,
            "gpu",
            "Jetson Orin NX (HI L179); 128-bit LPDDR5 102.4 GB/s",
        ),
        BoardProcessors(
            "tx2",
            (
                ProcessorSpec("denver", "cpu", 32.0, 2.5, "2x Denver-2 @ 2.0 GHz x 8 FLOP/cycle = 32 GFLOPS"),
                ProcessorSpec("a57", "cpu", 64.0, 2.5, "4x Cortex-A57 @ 2.0 GHz x 8 FLOP/cycle = 64 GFLOPS"),
                ProcessorSpec("gpu", "gpu", 665.6, 6.0, "256-core Pascal @ 1.3 GHz x 2 = 665.6 GFLOPS fp32"),
            ),
            59.7,
            3.0,
            "gpu",
            "Jetson TX2 (HI L180); 128-bit LPDDR4 59.7 GB/s",
        ),
        BoardProcessors(
            "nano",
            (
                ProcessorSpec("cpu", "cpu", 45.8, 2.5, "4x Cortex-A57 @ 1.43 GHz x 8 FLOP/cycle = 45.8 GFLOPS"),
                ProcessorSpec(
                    "gpu", "gpu", 236.0, 4.0, "128-core Maxwell @ 921.6 MHz x 2 = 236 GFLOPS fp32 (472 fp16)"
                ),
            ),
            25.6,
            1.5,
            "gpu",
            "Jetson Nano (HI L181); 64-bit LPDDR4 25.6 GB/s",
        ),
        BoardProcessors(
            "xavier",
            (
                ProcessorSpec("cpu", "cpu", 289.3, 8.0, "8x Carmel @ 2.26 GHz x 16 FLOP/cycle = 289 GFLOPS"),
                ProcessorSpec("gpu", "gpu", 1410.0, 15.0, "512-core Volta @ 1.377 GHz x 2 = 1.41 TFLOPS fp32"),
            ),
            136.5,
            5.0,
            "gpu",
            "Jetson AGX Xavier (DistrEdge's boards, not HiDP's); 256-bit LPDDR4x 136.5 GB/s",
        ),
        BoardProcessors(
            "pi5",
            (
                ProcessorSpec("cpu", "cpu", 153.6, 5.0, "4x Cortex-A76 @ 2.4 GHz x 16 FLOP/cycle = 153.6 GFLOPS"),
                ProcessorSpec(
                    "gpu",
                    "gpu-gl",
                    76.8,
                    2.0,
                    "VideoCore VII: assumed 1.5x the QPUs and 1.6x the clock of "
                    "VideoCore VI (32 GFLOPS) -> 76.8 GFLOPS (not verified)",
                ),
            ),
            17.1,
            2.7,
            "gpu",
            "Raspberry Pi 5 (HI L182); 32-bit LPDDR4X-4267 17.1 GB/s",
        ),
        BoardProcessors(
            "pi4",
            (
                ProcessorSpec("cpu", "cpu", 48.0, 3.5, "4x Cortex-A72 @ 1.5 GHz x 8 FLOP/cycle = 48 GFLOPS"),
                ProcessorSpec(
                    "gpu", "gpu-gl", 32.0, 1.5, "VideoCore VI @ 500 MHz, commonly quoted 32 GFLOPS (not verified)"
                ),
            ),
            12.8,
            2.7,
            "gpu",
            "Raspberry Pi 4B (HI L183); 32-bit LPDDR4-3200 12.8 GB/s",
        ),
    ]
}


def board_processors(board: str, efficiency: Mapping[str, float] | None = None) -> BoardProcessors:
    """The figures of ``board``; ``efficiency`` overrides :data:`EFFICIENCY` per processor kind
    (e.g. ``{"gpu": 0.1}``: the Jetson GPUs at 10 % of peak) on the specs returned, leaving the
    shared table and :data:`PROCESSOR_BOARDS` as they are."""
    try:
        bp = PROCESSOR_BOARDS[board]
    except KeyError:
        raise ConfigError(
            f"board: no processor-level figures for {board!r} (known: {', '.join(PROCESSOR_BOARDS)})"
        ) from None
    if not efficiency:
        return bp
    for kind, value in efficiency.items():
        if kind not in EFFICIENCY:
            raise ConfigError(f"efficiency.{kind}: unknown processor kind (known: {', '.join(EFFICIENCY)})")
        if not 0.0 < value <= 1.0:
            raise ConfigError(f"efficiency.{kind}: a fraction of peak in (0, 1], got {value}")
    procs = tuple(
        replace(p, efficiency=float(efficiency[p.kind])) if p.kind in efficiency else p for p in bp.processors
    )
    return replace(bp, processors=procs)
