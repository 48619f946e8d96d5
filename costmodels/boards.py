"""Published figures of the edge boards the papers use, for *derived* profiles.

We cannot measure a Raspberry Pi 3 or a Jetson here, so a board's profile is derived (see
:func:`profiles.derive`): a CPU board's is the local measurement scaled by the ratio of effective
compute rates; a GPU board's follows :mod:`gpu_shape`'s wave model, which needs the GPU's SM count,
boost clock, FLOP per SM per cycle (FP16 and FP32) and memory bandwidth, given on the GPU entries
below with their sources (``gpu_source``). The papers give no numeric speeds (PAPERS-AUDIT A.6:
only Pi3 << Nano < TX2 < Xavier), so the peaks below come from public spec figures, written next
to each with its arithmetic. ``efficiency`` is our assumption of the fraction of peak a tuned
runtime reaches (TensorRT FP16 on Jetsons as in DistrEdge; an optimised NEON runtime on Pis): one
number per processor kind, so under the scaled (CPU) shape only the peaks set the *ratios* between
boards; under the GPU model the SM count and bandwidth shape them per unit too.
"""

from __future__ import annotations

from dataclasses import dataclass

from splitgym.costmodels.errors import ConfigError

__all__ = ["Board", "BOARDS", "board"]

GPU_EFFICIENCY = 0.5
CPU_EFFICIENCY = 0.3


@dataclass(frozen=True)
class Board:
    name: str
    processor: str  # "gpu" | "cpu"
    peak_gflops: float
    memory_gb: float
    source: str
    power_w: float  # typical board power under load, for energy estimates (derived)
    # GPU boards only: the figures costmodels/gpu_shape.py runs its wave model on
    sm_count: int | None = None
    boost_clock_ghz: float | None = None
    fp16_flop_per_sm_cycle: float | None = None
    fp32_flop_per_sm_cycle: float | None = None
    mem_bandwidth_gbs: float | None = None
    gpu_source: str = ""

    @property
    def efficiency(self) -> float:
        return GPU_EFFICIENCY if self.processor == "gpu" else CPU_EFFICIENCY

    @property
    def effective_gflops(self) -> float:
        return self.peak_gflops * self.efficiency


BOARDS: dict[str, Board] = {
    b.name: b
    for b in [
        Board(
            "pi3",
            "cpu",
            38.4,
            1.0,
            "Raspberry Pi 3B: 4x Cortex-A53 @ 1.2 GHz (HY L260), NEON fp32 8 FLOP/cycle/core -> 4*1.2*8 = 38.4 GFLOPS",
            4.0,
        ),
        Board(
            "pi3b+",
            "cpu",
            44.8,
            1.0,
            "Raspberry Pi 3B+: 4x Cortex-A53 @ 1.4 GHz, 1 GB (HY L260) -> 4*1.4*8 = 44.8 GFLOPS",
            5.0,
        ),
        Board(
            "pi4",
            "cpu",
            48.0,
            4.0,
            "Raspberry Pi 4B: 4x Cortex-A72 @ 1.5 GHz, 8 FLOP/cycle/core -> 48 GFLOPS; 4 GB (HI L183)",
            6.0,
        ),
        Board(
            "pi5",
            "cpu",
            153.6,
            4.0,
            "Raspberry Pi 5: 4x Cortex-A76 @ 2.4 GHz, 16 FLOP/cycle/core (2x128-bit FMA) -> "
            "153.6 GFLOPS; 4 GB (HI L182)",
            8.0,
        ),
        Board(
            "nano",
            "gpu",
            472.0,
            4.0,
            "Jetson Nano: 128-core Maxwell @ 921.6 MHz, 472 GFLOPS FP16 (NVIDIA spec); 4 GB",
            10.0,
            sm_count=1,
            boost_clock_ghz=0.9216,
            fp16_flop_per_sm_cycle=512.0,
            fp32_flop_per_sm_cycle=256.0,
            mem_bandwidth_gbs=25.6,
            gpu_source="Jetson Nano module data sheet: 1 Maxwell SM of 128 CUDA cores @ 921.6 MHz; FP32 "
            "128 cores x 2 (FMA) = 256 FLOP/SM/cycle, FP16 2x (half2) = 512 -> 1*512*0.9216 = 472 GFLOPS; "
            "64-bit LPDDR4 @ 1600 MHz = 25.6 GB/s",
        ),
        Board(
            "tx2",
            "gpu",
            1330.0,
            8.0,
            "Jetson TX2: 256-core Pascal @ 1.3 GHz, 1.33 TFLOPS FP16 (NVIDIA spec); 8 GB",
            15.0,
            sm_count=2,
            boost_clock_ghz=1.3,
            fp16_flop_per_sm_cycle=512.0,
            fp32_flop_per_sm_cycle=256.0,
            mem_bandwidth_gbs=59.7,
            gpu_source="Jetson TX2 data sheet: 2 Pascal SMs of 128 CUDA cores @ 1.3 GHz; FP32 256, FP16 2x = "
            "512 FLOP/SM/cycle -> 2*512*1.3 = 1.33 TFLOPS; 128-bit LPDDR4 @ 1866 MHz = 59.7 GB/s",
        ),
        Board(
            "xavier",
            "gpu",
            2820.0,
            16.0,
            "Jetson AGX Xavier: 512-core Volta @ 1.377 GHz -> 512*1.377*4 = 2.82 TFLOPS FP16 on "
            "CUDA cores (tensor cores not counted); 16 GB",
            30.0,
            sm_count=8,
            boost_clock_ghz=1.377,
            fp16_flop_per_sm_cycle=256.0,
            fp32_flop_per_sm_cycle=128.0,
            mem_bandwidth_gbs=136.5,
            gpu_source="Jetson AGX Xavier data sheet: 8 Volta SMs of 64 CUDA cores @ 1.377 GHz; FP32 64 x 2 = "
            "128, FP16 2x = 256 FLOP/SM/cycle -> 8*256*1.377 = 2.82 TFLOPS; 256-bit LPDDR4x @ 2133 MHz "
            "= 136.5 GB/s",
        ),
        Board(
            "orin-nx",
            "gpu",
            3760.0,
            8.0,
            "Jetson Orin NX: 1024-core Ampere (HI L179) @ 918 MHz -> 1024*0.918*4 = 3.76 TFLOPS "
            "FP16 on CUDA cores; 8 GB",
            25.0,
            sm_count=8,
            boost_clock_ghz=0.918,
            fp16_flop_per_sm_cycle=512.0,
            fp32_flop_per_sm_cycle=256.0,
            mem_bandwidth_gbs=102.4,
            gpu_source="Jetson Orin NX data sheet: 8 Ampere SMs of 128 CUDA cores @ 918 MHz; FP32 128 x 2 = "
            "256, FP16 2x = 512 FLOP/SM/cycle (as the peak above) -> 8*512*0.918 = 3.76 TFLOPS; 128-bit "
            "LPDDR5 = 102.4 GB/s",
        ),
    ]
}


def board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise ConfigError(
            f"board: unknown board {name!r} (known: local-cpu, local-cuda, {', '.join(BOARDS)})"
        ) from None
