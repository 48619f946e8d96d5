"""Latency against output rows of a few VGG-16 units on every derived board: the shapes.

    python -m splitgym.experiments.gpu_shapes [--model vgg16] [--size 224] [--out experiments/results]

GPU boards (Jetsons, :mod:`gpu_shape`'s wave model, uncalibrated) are flat at small heights and
step at each new wave of thread blocks; CPU boards (Pis, the local measurement's linear fit scaled)
are smooth lines. Each panel is one unit, log latency so boards 100x apart share it; the dotted
line under each GPU curve is its launch floor (kernels x ``launch_s``). Writes ``gpu_shapes.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from splitgym.costmodels.boards import BOARDS  # noqa: E402
from splitgym.costmodels.graph import ModelGraph  # noqa: E402
from splitgym.costmodels.profiles import DeviceProfile, load_or_measure, profile_for  # noqa: E402
from splitgym.experiments.results_csv import RESULTS_DIR  # noqa: E402

__all__ = ["UNITS", "shapes", "main"]

RESULTS = Path(RESULTS_DIR)  # under the working directory, never the package
UNITS = ("features.2", "features.7", "features.19", "features.24")  # one conv per resolution: 224, 112, 28, 14
_BOARDS = ("pi3", "pi4", "nano", "tx2", "xavier", "orin-nx")


def shapes(graph: ModelGraph, units: tuple[str, ...] = UNITS) -> dict[str, dict[str, np.ndarray]]:
    """Seconds at rows 1..H of each unit on each board: ``{board: {unit: array}}``."""
    cache: dict[str, DeviceProfile] = {"local-cpu": load_or_measure(graph, "cpu", progress=False)}
    out: dict[str, dict[str, np.ndarray]] = {}
    for b in _BOARDS:
        prof = profile_for(b, graph, cache)
        out[b] = {n: prof.unit_latency(graph.unit(n).index, np.arange(1, graph.unit(n).height + 1)) for n in units}
    return out


def _steps(seconds: np.ndarray) -> int:
    """Rows whose extra latency is over 3x the median row's: steps, not a slope."""
    d = np.diff(seconds)
    return int(np.sum(d > 3 * np.median(d)))


def _plot(graph: ModelGraph, data: dict[str, dict[str, np.ndarray]], path: Path) -> None:
    units = list(next(iter(data.values())))
    fig, axes = plt.subplots(1, len(units), figsize=(4.2 * len(units), 4.0))
    colours = plt.get_cmap("tab10")
    for ax, name in zip(np.atleast_1d(axes), units):
        u = graph.unit(name)
        for i, (board, per_unit) in enumerate(data.items()):
            rows = np.arange(1, u.height + 1)
            gpu = BOARDS[board].processor == "gpu"
            style = {"drawstyle": "steps-post"} if gpu else {"linestyle": "--"}
            ax.plot(rows, per_unit[name] * 1e3, color=colours(i), label=f"{board} ({'GPU' if gpu else 'CPU'})", **style)
        ax.set_yscale("log")
        ax.set_title(f"{name} -> {u.out_shape[0]}x{u.height}x{u.out_shape[2]}")
        ax.set_xlabel("output rows")
        ax.grid(alpha=0.3, which="both")
    np.atleast_1d(axes)[0].set_ylabel("latency (ms, log)")
    np.atleast_1d(axes)[-1].legend(fontsize=8)
    fig.suptitle(
        f"{graph.name} at {graph.input_shape[1]}: derived boards. GPU = wave model (launch floor + waves of "
        "thread blocks over SMs + memory bound), uncalibrated; CPU = local linear fit scaled"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="vgg16")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    graph = ModelGraph.from_torchvision(args.model, input_size=args.size, weights=False)
    units = UNITS if args.model == "vgg16" else tuple(u.name for u in graph.units[:: max(1, graph.num_units // 4)][:4])
    data = shapes(graph, units)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "gpu_shapes.png"
    _plot(graph, data, path)
    steps = {b: _steps(v[units[2]]) for b, v in data.items()}
    print(f"{path}: steps over the {graph.unit(units[2]).height} rows of {units[2]}: {steps}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
