"""The predicted-vs-measured loop, once for every kind of plan: predict, measure, calibrate, write.

Each kind of plan runs on its own executor and is priced by its own cost model, but the study is
the same: for every model, measure the profile(s), make the kind's plans, run each one for real
next to the cost model's prediction, then calibrate 2-fold by plan (refit on one half's measured
parts, predict the other half) and write ``<stem>.csv`` (one row per plan and backend), ``<stem>.json``
(per backend: MAPE and Spearman rank correlation before and after calibration) and ``<stem>.png``.
:func:`run_study` owns that loop; a kind is a :class:`Study` whose hooks say what differs:

* :meth:`Study.prepare`: the model's graph, profile(s) and input (and the profiling line);
* :meth:`Study.items` / :meth:`Study.measure`: what is run, and one :class:`Measured` per item
  (its rows, with ``predicted_ms`` and ``measured_ms``, and the parts the calibration fits);
* :meth:`Study.calibrate`: one fold's refit, as the columns it gives each row;
* :meth:`Study.summarise` / :meth:`Study.report`: the JSON summary and the lines printed.

The kinds: volume plans on this CPU (:mod:`.predicted_vs_measured`) and on a CPU + GPU cluster
(:mod:`.predicted_vs_measured_gpu`), HiDP's node plans with processor shares
(:mod:`.predicted_vs_measured_hidp`) and NPTP's tile plans (:mod:`.predicted_vs_measured_tiles`);
:mod:`.predicted_vs_measured_report` gathers their JSON files into one table.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.cluster import Cluster, Device
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.link_table import load_link_table
from splitgym.costmodels.models import build_model
from splitgym.costmodels.network import Network
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = [
    "RESULTS",
    "BOARD",
    "Measured",
    "Study",
    "run_study",
    "write_study",
    "execute",
    "mape",
    "spearman",
    "two_folds",
    "accuracy",
    "summarise",
    "plot",
    "progress",
    "backend_line",
    "local_cluster",
    "with_overhead",
    "without_transport",
    "fit_overhead",
    "torch_threads",
    "breakdown_columns",
]

RESULTS = Path(RESULTS_DIR)  # under the working directory (the checkout under make), never the package
BOARD = "local-cpu"

#: A fold's calibration: the columns it gives a row (``in_fold``: the row's plan was fitted on).
Calibrated = Callable[[dict[str, Any], bool], dict[str, Any]]


# -- metrics ------------------------------------------------------------------------------------


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation (NaN with fewer than 3 values): does the model order plans as measured?"""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1]) if len(a) > 2 else float("nan")


def mape(pred: np.ndarray, meas: np.ndarray) -> float:
    """Mean absolute percentage error of ``pred`` against ``meas``."""
    return float(np.mean(np.abs(pred - meas) / meas) * 100)


def two_folds(methods: list[str]) -> list[set[str]]:
    """The 2-fold split by plan: every other method in each fold."""
    return [set(methods[0::2]), set(methods[1::2])]


def accuracy(rows: list[dict[str, Any]], also: dict[str, str] | None = None) -> dict[str, Any]:
    """Plans, MAPE and rank correlation, before and after calibration; ``also`` adds the MAPE of
    more columns (summary key -> row column)."""
    p, m, c = (np.array([r[k] for r in rows]) for k in ("predicted_ms", "measured_ms", "calibrated_ms"))
    out = {
        "plans": len(rows),
        "mape_pct": mape(p, m),
        "spearman": spearman(p, m),
        "calibrated_mape_pct": mape(c, m),
        "calibrated_spearman": spearman(c, m),
    }
    return out | {key: mape(np.array([r[col] for r in rows]), m) for key, col in (also or {}).items()}


def summarise(rows: list[dict[str, Any]], also: dict[str, str] | None = None) -> dict[str, Any]:
    """:func:`accuracy` per backend."""
    return {b: accuracy([r for r in rows if r["backend"] == b], also) for b in sorted({r["backend"] for r in rows})}


# -- what several kinds share -------------------------------------------------------------------


def local_cluster(n: int, mbps: float = 300.0, latency_ms: float = 1.0, links: str | Path | None = None) -> Cluster:
    """``n`` logical devices that are all this CPU (board ``local-cpu``), every link ``mbps``;
    ``links``: a link table whose measured per-message cost the cost model charges (the
    transport's, which the executors pay for real: ``conf/network/local.yaml``'s default)."""
    devices = [Device(f"cpu-{k}", BOARD) for k in range(n)]
    caps = {d.name: mbps for d in devices} | {"requester": mbps}
    transport = load_link_table(links).overhead_s if links else 0.0
    return Cluster(f"local{n}", devices, Network(caps, latency_ms / 1e3, 0.0, transport_s=transport))


def without_transport(plan: Plan) -> Plan:
    """The plan as it was priced before links were measured: no transport cost per message."""
    return plan.model_copy(update={"network": plan.network.model_copy(update={"transport_ms": 0.0})})


def with_overhead(plan: Plan, seconds: float) -> Plan:
    """The plan with ``seconds`` more per-transfer overhead on every link."""
    net = plan.network.model_copy(update={"overhead_ms": plan.network.overhead_ms + seconds * 1e3})
    return plan.model_copy(update={"network": net})


def fit_overhead(
    rows: list[dict[str, Any]],
    graph: ModelGraph,
    profile: DeviceProfile,
    predict: Callable[[Plan, ModelGraph, DeviceProfile], float],
) -> float:
    """The per-transfer overhead (s) that best explains measured distributed latencies (least
    squares on relative errors over a 0-50 ms grid): what processes, gloo and the loopback add
    to every message beyond the link model. 0 without distributed rows. ``predict(plan, graph,
    profile)`` gives a plan's predicted seconds with the kind's cost model."""
    if not rows:
        return 0.0
    grid = np.linspace(0.0, 0.05, 101)
    meas = np.array([r["measured_ms"] / 1e3 for r in rows])
    err = [
        np.sum(((np.array([predict(with_overhead(r["_plan"], g), graph, profile) for r in rows]) - meas) / meas) ** 2)
        for g in grid
    ]
    return float(grid[int(np.argmin(err))])


#: the distributed executor's own main-thread work per image (its ``meta["breakdown"]`` kinds)
EXECUTOR_KINDS = ("recv_post", "assemble", "slice", "put", "flush", "other")


def breakdown_columns(breakdown: dict[str, dict[str, float]], devices: list[str]) -> dict[str, float]:
    """A distributed row's breakdown (from ``ExecutionResult.meta["breakdown"]``, seconds per
    image per rank) as columns: the busiest device's compute (``dist_compute_ms``), the devices'
    mean wait for inputs (``dist_recv_wait_ms``), the most any device spent on the executor's own
    work (``dist_executor_ms``: posting receives, concatenating, slicing, handing to the sender,
    the end-of-image flush, bookkeeping) and the messages per image (``dist_messages``), so that
    a re-run of the study shows where the measured latency beyond the prediction goes."""
    rows = [breakdown[d] for d in devices if d in breakdown]
    if not rows:
        return {}
    return {
        "dist_compute_ms": max(r["compute"] for r in rows) * 1e3,
        "dist_recv_wait_ms": float(np.mean([r["recv_wait"] for r in rows])) * 1e3,
        "dist_executor_ms": max(sum(r[k] for k in EXECUTOR_KINDS) for r in rows) * 1e3,
        "dist_messages": sum(r.get("messages", 0.0) for r in breakdown.values()),
    }


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Torch at ``n`` threads for the study (profiler and executors alike), restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def progress(label: str, row: dict[str, Any], note: str = "", digits: int = 1) -> None:
    """One measured row as it comes: ``label``, predicted and measured ms, ``note``."""
    print(
        f"{label}{row['predicted_ms']:9.{digits}f} ms predicted {row['measured_ms']:9.{digits}f} ms measured{note}",
        flush=True,
    )


def backend_line(backend: str, s: dict[str, Any]) -> str:
    """A backend's summary as printed at the end of a study."""
    return (
        f"{backend:<22} {s['plans']:3d} plans  MAPE {s['mape_pct']:5.1f}% (rank corr {s['spearman']:.2f})"
        f"  calibrated MAPE {s['calibrated_mape_pct']:5.1f}% (rank corr {s['calibrated_spearman']:.2f})"
    )


# -- the loop -----------------------------------------------------------------------------------


@dataclass
class Measured:
    """One measured item: its rows (one per backend run) and the parts the calibration may fit
    (``None``: none, and the method is not counted for the folds)."""

    method: str
    rows: list[dict[str, Any]]
    samples: list[Any] | None = None


class Study:
    """A kind of plan in the predicted-vs-measured loop (see the module doc); subclasses are
    dataclasses of their options and may keep run state (extra tables) on ``self``, so an
    instance serves one run."""

    #: the output files' stem under ``--out``
    stem = "predicted_vs_measured"
    #: columns moved to the end of every row (``None`` where a row has none)
    trailing: tuple[str, ...] = ()
    #: the figure: ``None`` (none), ``"linear"`` or ``"log"`` axes
    figure: str | None = "linear"
    #: the figure's title prefix
    figure_title = ""
    threads = 1

    def prepare(self, name: str, model: torch.nn.Module) -> Any:
        """The model's context for the hooks below (graph, profile(s), input...)."""
        raise NotImplementedError

    def session(self, ctx: Any) -> contextlib.AbstractContextManager[Any]:
        """What stays open while the model's items are measured (worker pools)."""
        return contextlib.nullcontext()

    def items(self, ctx: Any) -> Iterable[Any]:
        """What to measure, in order (generated lazily: a plan is made when it is measured)."""
        raise NotImplementedError

    def measure(self, ctx: Any, item: Any) -> Measured:
        """Run one item for real beside its prediction (and print its progress line)."""
        raise NotImplementedError

    def folds(self, samples: dict[str, list[Any]]) -> list[set[str]]:
        """The 2-fold split of the measured methods (sorted by name unless a kind says otherwise)."""
        return two_folds(sorted(samples))

    def calibrate(self, ctx: Any, fit: list[Any], fold: set[str], rows: list[dict[str, Any]]) -> Calibrated:
        """Refit on ``fit`` (the parts of the plans in ``fold``; ``rows``: the model's rows)."""
        raise NotImplementedError

    def summarise(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return summarise(rows)

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """More CSV tables beside the rows: result key -> rows, written to ``<stem>_<key>.csv``."""
        return {}

    def report(self, res: dict[str, Any], out: Path) -> None:
        """The lines printed once the files are written."""
        for backend, s in res["summary"].items():
            if backend != "parts":
                print(backend_line(backend, s))
        print(f"wrote {out / (self.stem + '.csv')} and .png")


def run_study(study: Study, models: list[str]) -> dict[str, Any]:
    """Every model's items measured and calibrated 2-fold by plan; ``{"rows", "summary", **tables}``."""
    rows: list[dict[str, Any]] = []
    with torch_threads(study.threads):
        for name in models:
            ctx = study.prepare(name, build_model(name, seed=0))
            mine: list[dict[str, Any]] = []
            samples: dict[str, list[Any]] = {}
            with study.session(ctx):
                for item in study.items(ctx):
                    got = study.measure(ctx, item)
                    mine += got.rows
                    if got.samples is not None:
                        samples.setdefault(got.method, []).extend(got.samples)
            for fold in study.folds(samples):
                cal = study.calibrate(ctx, [s for m in fold for s in samples[m]], fold, mine)
                for r in mine:
                    r.update(cal(r, r["plan"] in fold))
            rows += mine
    for r in rows:
        for k in [k for k in r if k.startswith("_")]:
            r.pop(k)
        r["error_pct"] = (r["predicted_ms"] - r["measured_ms"]) / r["measured_ms"] * 100
        r["calibrated_error_pct"] = (r["calibrated_ms"] - r["measured_ms"]) / r["measured_ms"] * 100
        for k in study.trailing:
            r[k] = r.pop(k, None)
    return {"rows": rows, **study.tables(), "summary": study.summarise(rows)}


def write_study(study: Study, res: dict[str, Any], out: Path) -> None:
    """``<stem>.csv``, every extra table's CSV, ``<stem>.json`` and the figure, under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / f"{study.stem}.csv", res["rows"])
    for key in study.tables():
        write_csv(out / f"{study.stem}_{key}.csv", res[key])
    atomic_write(out / f"{study.stem}.json", json.dumps(res["summary"], indent=1))
    if study.figure is not None:
        plot(res["rows"], out / f"{study.stem}.png", log=study.figure == "log", title=study.figure_title)


def execute(study: Study, models: list[str], out: str | Path) -> dict[str, Any]:
    """Run, write and report a study: what every kind's ``main`` ends with."""
    res = run_study(study, models)
    write_study(study, res, Path(out))
    study.report(res, Path(out))
    return res


def plot(rows: list[dict[str, Any]], path: Path, log: bool = False, title: str = "") -> None:
    """Predicted against measured, as profiled and calibrated, one marker per backend, with the
    ±15% band; ``log`` axes for studies whose latencies span decades (tiles at several sizes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ("measured_ms", "predicted_ms", "calibrated_ms")
    hi = max(max(r[k] for k in keys) for r in rows) * (1.1 if log else 1.05)
    lo = min(min(r[k] for k in keys) for r in rows) / 1.1 if log else 0.0
    xs = np.geomspace(lo, hi, 50) if log else np.array([0.0, hi])
    found = {r["backend"] for r in rows}
    backends = sorted(found) if log else ["in-process", *(found - {"in-process"})]
    scale = {"xscale": "log", "yscale": "log"} if log else {}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharex=True, sharey=True)
    for ax, key, what in zip(axes, ("predicted_ms", "calibrated_ms"), ("profile as measured", "calibrated (2-fold)")):
        ax.fill_between(xs, 0.85 * xs, 1.15 * xs, color="0.9", label="±15%", zorder=0)
        ax.plot(xs, xs, "k--", lw=0.8, zorder=1)
        for backend in backends:
            sel = [r for r in rows if r["backend"] == backend]
            ax.scatter(
                [r["measured_ms"] for r in sel],
                [r[key] for r in sel],
                s=18,
                zorder=3,
                marker="o" if backend == "in-process" else "^",
                label=backend,
            )
        ax.set(
            title=title + what,
            xlabel="measured latency (ms)",
            ylabel="predicted latency (ms)",
            **scale,
            xlim=(lo, hi),
            ylim=(lo, hi),
        )
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
