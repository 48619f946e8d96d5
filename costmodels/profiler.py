"""Measure per-unit latency against output height on a local torch device.

DistrEdge profiles "computing latency against the height of each layer" with a granularity of one
row and 100 repeats (DE L250). We time the real split-part module (:class:`SlicedSegment`) of each
unit for an interior band of ``h`` output rows, so the halo a part reads and the border effects of
slicing are inside the measurement, with ``torch.utils.benchmark`` (warm-up, blocked runs, median).
A coarser grid (every ``granularity`` rows) plus interpolation is the default; 1 reproduces the
paper's table. With ``widths`` the same is measured for tiles (NPTP's 2-D partitions).
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import statistics
from collections.abc import Sequence

import torch
import torch.utils.benchmark as benchmark
from tqdm import tqdm

from splitgym.costmodels.errors import ProfileError
from splitgym.costmodels.graph import ModelGraph, graph_on
from splitgym.costmodels.profiles import PROFILE_VERSION, DeviceProfile, UnitTable
from splitgym.costmodels.slicing import Region, SlicedSegment

__all__ = ["profile_model", "height_grid", "machine_info"]


def height_grid(height: int, granularity: int) -> list[int]:
    """Heights to measure: every ``granularity`` rows, always including 1 and the full height."""
    if granularity < 1:
        raise ProfileError(f"granularity: must be >= 1 row, got {granularity}")
    return sorted({1, height, *range(granularity, height, granularity)})


def machine_info(device: str) -> dict[str, object]:
    """What a profile brought from another machine must say about where it was measured (the
    model, input, date and method are in the profile itself)."""
    info: dict[str, object] = {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _version("torchvision"),
        "splitgym": _version("splitgym"),
        "threads": torch.get_num_threads(),
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


BLOCKS = 5  # timed blocks per point; the point's time is the median of their per-run means


def _time(fn, x: torch.Tensor, min_run_time: float, device: str) -> float:
    """Median per-run seconds of ``fn(x)`` over up to :data:`BLOCKS` blocks filling ``min_run_time``
    (a point slower than the budget: one run after the warm-up and the estimate, as before).

    ``blocked_autorange`` first searches a block size by timing 1, 10, 100... runs until the
    timer's own overhead is 1e-4 of a block: on a profile's many sub-millisecond points that search
    cost as much as the measurement itself (half of the profiler's wall time). A timed second call
    gives the block size directly; ``Timer.timeit`` then times the blocks (its timer synchronises
    CUDA, which also waits for the warm-up), so only the search is ours; ``device`` is unused
    here and kept for the timers' shared signature (bench_profiler swaps in the old one)."""
    # Timer sets its own thread count (default 1): measure at the count in force, the one
    # machine_info records and the executors run with
    timer = benchmark.Timer(stmt="fn(x)", globals={"fn": fn, "x": x}, num_threads=torch.get_num_threads())
    with torch.inference_mode():
        fn(x)  # warm-up (first-call allocation, algorithm selection)
        once = timer.timeit(1).median  # one run, synchronised: the block size's estimate
        number = max(1, int(min_run_time / BLOCKS / max(once, 1e-7)))
        blocks = max(1, min(BLOCKS, int(min_run_time / (number * max(once, 1e-7)))))  # slow points: fewer
        means = [timer.timeit(number).median for _ in range(blocks)]
    return float(statistics.median(means))


def profile_model(
    graph: ModelGraph,
    device: str = "cpu",
    granularity: int | None = None,
    widths: Sequence[float] | None = None,
    min_run_time: float = 0.02,
    name: str = "local-cpu",
    progress: bool = True,
    passes: int = 2,
    threads: int | None = None,
) -> DeviceProfile:
    """Measure every unit (and the head) of ``graph`` on the torch ``device``.

    Args:
        granularity: rows between measured heights; default ``max(1, H // 12)`` per unit.
        widths: fractions of the width to measure as tiles (default ``[1.0]``: full rows).
        min_run_time: seconds of repeated runs per point (torch.utils.benchmark's budget).
        passes: sweeps over the whole grid; each point keeps the lowest of its per-pass medians,
            so a burst of load from another process in one sweep does not stick (the machines
            we measure on are shared).
        threads: torch CPU threads while measuring (default: the count in force); recorded in
            the profile's machine info. Measure at the count the executors will run with.
    """
    if threads is not None and threads < 1:
        raise ProfileError(f"threads: must be >= 1, got {threads}")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _measure(graph, device, granularity, widths, min_run_time, name, progress, passes)
    finally:
        torch.set_num_threads(before)


def _measure(
    graph: ModelGraph,
    device: str,
    granularity: int | None,
    widths: Sequence[float] | None,
    min_run_time: float,
    name: str,
    progress: bool,
    passes: int,
) -> DeviceProfile:
    if passes < 1:
        raise ProfileError(f"passes: must be >= 1, got {passes}")
    try:
        dev = torch.device(device)
        torch.empty(1, device=dev)
    except (RuntimeError, AssertionError) as exc:
        raise ProfileError(f"device: cannot use torch device {device!r} ({exc})") from exc
    fractions = sorted(set(widths or [1.0]))
    if any(not 0 < f <= 1 for f in fractions):
        raise ProfileError(f"widths: fractions must be in (0, 1], got {list(fractions)}")
    plans = []
    for u in graph.units:
        _, h, w = u.out_shape
        g = granularity if granularity is not None else max(1, h // 12)
        cols = sorted({max(1, round(f * w)) for f in fractions})
        plans.append((u, height_grid(h, g), cols))
    total = passes * (sum(len(hs) * len(ws) for _, hs, ws in plans) + (1 if graph.head else 0))
    bar = tqdm(total=total, desc=f"profiling {graph.name} on {device}", disable=not progress, unit="pt", leave=False)
    tables: list[UnitTable] = []
    head_seconds = float("inf") if graph.head is not None else 0.0
    grids = [[[float("inf")] * len(ws) for _ in hs] for _, hs, ws in plans]
    on_dev = graph_on(graph, dev)  # a copy on a GPU: the caller's graph stays where it is
    with torch.inference_mode():
        for _ in range(passes):
            for (u, hs, ws), grid in zip(plans, grids):
                _, h, w = u.out_shape
                for i, rows in enumerate(hs):
                    for j, cols in enumerate(ws):
                        r0, c0 = (h - rows) // 2, (w - cols) // 2
                        part = SlicedSegment(on_dev, u.index, u.index, Region(r0, r0 + rows, c0, c0 + cols))
                        ri = part.in_region
                        x = torch.randn(1, u.in_shape[0], ri.rows, ri.cols, device=dev)
                        grid[i][j] = min(grid[i][j], _time(part, x, min_run_time, device))
                        bar.update()
            if graph.head is not None:
                head = SlicedSegment(on_dev, graph.num_units, graph.num_units)
                x = torch.randn(1, *graph.units[-1].out_shape, device=dev)
                head_seconds = min(head_seconds, _time(head, x, min_run_time, device))
                bar.update()
    for (u, hs, ws), grid in zip(plans, grids):
        tables.append(UnitTable(name=u.name, heights=hs, widths=ws, seconds=grid))
    bar.close()
    return DeviceProfile(
        name=name,
        board="local-" + dev.type,
        kind="measured",
        model=graph.name,
        input_shape=graph.input_shape,
        units=tables,
        head_seconds=head_seconds,
        meta={
            "version": PROFILE_VERSION,
            "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "machine": machine_info(device),
            "model": graph.name,
            "input": list(graph.input_shape),
            "device": device,
            "granularity": granularity if granularity is not None else "H//12",
            "min_run_time_s": min_run_time,
            "passes": passes,
            "method": f"torch.utils.benchmark Timer.timeit, median of <= {BLOCKS} blocks, lowest of passes; "
            "interior band of h rows",
        },
    )
