"""DeviceProfile: how long a unit takes on a device, for any output region.

A profile is a measured table (per unit: latency at a grid of output heights, optionally also
widths) answered by interpolation; :meth:`DeviceProfile.in_form` gives it in another of
DistrEdge's forms (linear, piecewise-linear, kNN: :mod:`~splitgym.costmodels.profile_forms`), and
:func:`derive` makes a profile for a board we do not have, labelled ``derived`` with the figures it
came from: a GPU board from :mod:`gpu_shape`'s wave model, a CPU board by scaling the local
measurement. Profiles are JSON files with their machine, torch version, threads and date.
:func:`profile_for` answers a device's :class:`~splitgym.costmodels.profile_spec.ProfileSpec`:
local boards measured here, brought files, measured profiles in the store, else derivation.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.boards import Board
from splitgym.costmodels.boards import board as lookup_board
from splitgym.costmodels.errors import ConfigError, ProfileError
from splitgym.costmodels.gpu_shape import MODEL_NAME as GPU_MODEL_NAME
from splitgym.costmodels.gpu_shape import GpuShapeParams, GpuSpec, gpu_tables
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.jsonfile import read_json
from splitgym.costmodels.profile_forms import DEFAULT_K, DEFAULT_KNOTS, Form, form_seconds
from splitgym.costmodels.profile_schema import check_profile
from splitgym.costmodels.profile_spec import ProfileSpec, canonical_sha256

__all__ = [
    "PROFILE_VERSION",
    "UnitTable",
    "DeviceProfile",
    "derive",
    "profile_dir",
    "load_or_measure",
    "profile_for",
    "load_profile_file",
    "cached_profile_path",
]

PROFILE_VERSION = 1
FORMAT = "splitgym.profile"
SHIPPED_PROFILES = Path(__file__).parent / "data" / "profiles"


@dataclass
class UnitTable:
    """Measured seconds of one unit on a grid of output heights x widths."""

    name: str
    heights: list[int]
    widths: list[int]
    seconds: list[list[float]]  # [len(heights)][len(widths)]

    def at(self, rows: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """Interpolated seconds for output regions of ``rows`` x ``cols`` (0 rows -> 0 s)."""
        rows = np.asarray(rows, dtype=float)
        s = np.asarray(self.seconds, dtype=float)
        w_full = self.widths[-1]
        by_rows = [np.interp(rows, self.heights, s[:, j]) for j in range(len(self.widths))]
        if cols is None or len(self.widths) == 1:
            out = by_rows[-1]
            if cols is not None:  # one measured width: scale linearly in width
                out = out * (np.asarray(cols, dtype=float) / w_full)
        else:
            stack = np.stack(by_rows, axis=-1)
            cols = np.broadcast_to(np.asarray(cols, dtype=float), rows.shape)
            out = np.array(
                [np.interp(c, self.widths, line) for c, line in zip(cols.ravel(), stack.reshape(-1, len(self.widths)))]
            ).reshape(rows.shape)
        # below the smallest measured height, scale down linearly to zero at zero rows
        small = rows < self.heights[0]
        out = np.where(small, out * rows / max(self.heights[0], 1), out)
        return np.where(rows <= 0, 0.0, out)


@dataclass
class DeviceProfile:
    """Latency of every unit (and the head) of one model on one device."""

    name: str
    board: str
    kind: Literal["measured", "derived", "fitted"]
    model: str
    input_shape: tuple[int, int, int]
    units: list[UnitTable]
    head_seconds: float
    meta: dict[str, Any] = field(default_factory=dict)

    # -- queries ------------------------------------------------------------------------------
    def check(self, graph: ModelGraph) -> None:
        """Fail clearly when this profile was measured for another model or input size."""
        if self.model != graph.name or tuple(self.input_shape) != tuple(graph.input_shape):
            raise ProfileError(
                f"profile {self.name}: measured for {self.model} {list(self.input_shape)}, "
                f"not {graph.name} {list(graph.input_shape)}"
            )
        if len(self.units) != graph.num_units:
            raise ProfileError(f"profile {self.name}: has {len(self.units)} units, model has {graph.num_units}")

    def unit_latency(self, unit: int, rows: np.ndarray | int, cols: np.ndarray | int | None = None) -> np.ndarray:
        """Seconds for unit ``unit`` to produce ``rows`` output rows (x ``cols`` columns)."""
        return self.units[unit].at(np.asarray(rows), None if cols is None else np.asarray(cols))

    def table(self, graph: ModelGraph) -> np.ndarray:
        """Full-resolution table ``t[u, h]`` (seconds for h rows of unit u, full width), padded
        to the tallest unit: what the simulator indexes."""
        self.check(graph)
        hmax = max(u.height for u in graph.units)
        t = np.zeros((graph.num_units, hmax + 1))
        for i, u in enumerate(graph.units):
            t[i, : u.height + 1] = self.unit_latency(i, np.arange(u.height + 1))
            t[i, u.height + 1 :] = t[i, u.height]
        return t

    def total_seconds(self) -> float:
        """Latency of the whole model on this device alone (every unit at full size + head)."""
        return float(sum(u.at(np.array([u.heights[-1]]))[0] for u in self.units) + self.head_seconds)

    # -- alternatives -------------------------------------------------------------------------
    def fitted(self, method: Literal["linear", "piecewise", "knn"] = "linear", knots: int = 3) -> DeviceProfile:
        """A regression of this table (DistrEdge's "linear / piecewise-linear" device models);
        kept for callers of the two original forms: :meth:`in_form` is the general one."""
        return self.in_form(method, knots=knots)

    def in_form(self, form: Form, k: int | None = None, knots: int | None = None, where: str = "") -> DeviceProfile:
        """This table in one of DistrEdge's four forms (:mod:`~splitgym.costmodels.profile_forms`),
        per unit over rows at full width. Linear and piecewise are evaluated on the measured
        heights (exact for a line, as before); kNN on every row, since it is a step function.
        ``k`` unset: :data:`DEFAULT_K`, or all of a unit's points where it has fewer; a ``k``
        given that exceeds some unit's points is refused (it would silently mean less)."""
        if form == "table":
            return self
        least = min(len(u.heights) for u in self.units)
        if form == "knn" and k is not None and k > least:
            worst = next(u.name for u in self.units if len(u.heights) == least)
            raise ProfileError(
                f"{where or self.name}.k: {k} is more than the {least} measured heights of unit {worst} "
                f"(use k <= {least})"
            )
        units = []
        for u in self.units:
            grid = list(range(1, u.heights[-1] + 1)) if form == "knn" else u.heights
            s = np.asarray(u.seconds, dtype=float)[:, -1]
            kk = k if k is not None else min(DEFAULT_K, len(u.heights))
            fit = form_seconds(np.asarray(u.heights), s, np.asarray(grid), form, k=kk, knots=knots or DEFAULT_KNOTS)
            units.append(UnitTable(u.name, grid, u.widths[-1:], [[float(v)] for v in fit]))
        options = (
            {"k": k or DEFAULT_K} if form == "knn" else {"knots": knots or DEFAULT_KNOTS} if form == "piecewise" else {}
        )
        meta = dict(self.meta, fitted=form, fitted_from=self.name, form_options=options)
        return DeviceProfile(
            self.name + f"+{form}", self.board, "fitted", self.model, self.input_shape, units, self.head_seconds, meta
        )

    def mape_against(self, other: DeviceProfile) -> float:
        """Mean absolute percentage error of ``other`` on this profile's measured points."""
        errs = []
        for mine, theirs in zip(self.units, other.units):
            s = np.asarray(mine.seconds, dtype=float)[:, -1]
            o = theirs.at(np.asarray(mine.heights))
            errs.append(np.abs(o - s) / s)
        return float(np.mean(np.concatenate(errs)) * 100)

    # -- files --------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": PROFILE_VERSION,
            "name": self.name,
            "board": self.board,
            "kind": self.kind,
            "model": self.model,
            "input": list(self.input_shape),
            "meta": self.meta,
            "head_seconds": self.head_seconds,
            "units": [vars(u) for u in self.units],
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        return atomic_write(path, json.dumps(self.to_json(), indent=1))

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "profile") -> DeviceProfile:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ProfileError(
                f"{where}: format: expected {FORMAT!r}, "
                f"got {data.get('format') if isinstance(data, dict) else type(data).__name__!r}"
            )
        if data.get("version") != PROFILE_VERSION:
            raise ProfileError(f"{where}: version: expected {PROFILE_VERSION}, got {data.get('version')!r}")
        check_profile(data, where)
        try:
            units = [
                UnitTable(u["name"], list(u["heights"]), list(u["widths"]), [list(map(float, r)) for r in u["seconds"]])
                for u in data["units"]
            ]
            return cls(
                data["name"],
                data["board"],
                data["kind"],
                data["model"],
                tuple(data["input"]),
                units,
                float(data["head_seconds"]),
                data.get("meta", {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"{where}: malformed profile ({type(exc).__name__}: {exc})") from exc

    @classmethod
    def load(cls, path: str | Path) -> DeviceProfile:
        return cls.from_json(read_json(path, "profile", ProfileError), where=f"profile {path}")


def derive(
    base: DeviceProfile,
    board_name: str,
    graph: ModelGraph,
    name: str | None = None,
    shape: Literal["gpu", "linear", "table"] | None = None,
    gpu_params: GpuShapeParams | None = None,
) -> DeviceProfile:
    """A profile for a board we do not have, labelled derived.

    A GPU board (``shape="gpu"``, its default) follows :mod:`gpu_shape`'s model of how a GPU runs
    each unit (launch floors, waves of thread blocks over its SMs, a memory bound) on the board's
    public figures: flat at small heights, then stepping. A CPU board scales the local measurement
    by the ratio of effective compute rates, factor = (local effective FLOP/s on this model) /
    (board peak x efficiency): by default its per-unit linear fit (``shape="linear"``), because the
    raw table also holds this CPU library's own size effects (here oneDNN is several times slower
    on a 3-channel 224-row convolution than on 216 rows) that another board's runtime would not
    share; ``shape="table"`` keeps the raw table. A GPU board may be given a CPU shape too (the
    linear boards the DistrEdge comparison needs).
    """
    b = lookup_board(board_name)
    shape = shape or ("gpu" if b.processor == "gpu" else "linear")
    if shape == "gpu":
        return _derive_gpu(base, b, graph, name, gpu_params or GpuShapeParams())
    if shape not in ("linear", "table"):
        raise ConfigError(f"shape: expected one of gpu, linear, table, got {shape!r}")
    src = base.fitted("linear") if shape == "linear" else base
    local_rate = graph.flops / max(src.total_seconds(), 1e-12)
    factor = local_rate / (b.effective_gflops * 1e9)
    units = [UnitTable(u.name, u.heights, u.widths, [[s * factor for s in r] for r in u.seconds]) for u in src.units]
    meta = {
        "version": PROFILE_VERSION,
        "derived_from": base.name,
        "shape": shape,
        "derived_from_machine": base.meta.get("machine"),
        "derived_from_date": base.meta.get("date"),
        "local_effective_gflops": local_rate / 1e9,
        "board_peak_gflops": b.peak_gflops,
        "board_efficiency": b.efficiency,
        "scale_factor": factor,
        "source": b.source,
        "label": "derived (not measured on the board)",
    }
    return DeviceProfile(
        name or board_name, board_name, "derived", base.model, base.input_shape, units, src.head_seconds * factor, meta
    )


def _derive_gpu(
    base: DeviceProfile, b: Board, graph: ModelGraph, name: str | None, params: GpuShapeParams
) -> DeviceProfile:
    """The GPU wave model on the board's figures; ``base`` lends only its widths (tiles) and model."""
    base.check(graph)
    spec = GpuSpec.of_board(b, "fp16")
    tables, head = gpu_tables(graph, spec, params, [u.widths for u in base.units])
    units = [UnitTable(u.name, hs, ws, s) for u, (hs, ws, s) in zip(graph.units, tables)]
    meta = {
        "version": PROFILE_VERSION,
        "shape": "gpu",
        "model": GPU_MODEL_NAME,
        "gpu_params": params.to_json(),
        "calibrated": False,
        "gpu_spec": asdict(spec),
        "board_peak_gflops": b.peak_gflops,
        "source": b.source,
        "gpu_source": b.gpu_source,
        "widths_from": base.name,
        "label": "derived (GPU wave model on public figures, not measured on the board; uncalibrated)",
    }
    return DeviceProfile(name or b.name, b.name, "derived", base.model, base.input_shape, units, head, meta)


def profile_dir() -> Path:
    """Where measured profiles are cached: $SPLITGYM_HOME/profiles or ~/.cache/splitgym/profiles."""
    home = os.environ.get("SPLITGYM_HOME")
    return (Path(home) if home else Path.home() / ".cache" / "splitgym") / "profiles"


def _file_name(board: str, model: str, shape: tuple[int, ...]) -> str:
    return f"{board}_{model}_{'x'.join(map(str, shape))}.json"


def cached_profile_path(board: str, graph: ModelGraph) -> Path:
    """The store's file for ``board``'s profile of ``graph``: a *measured* profile saved there
    (e.g. on a real Nano, for ``nano``) is used by every planner and simulator instead of a
    derivation; a derived one saved there is ignored (:func:`profile_for`)."""
    return profile_dir() / _file_name(board, graph.name, graph.input_shape)


def load_or_measure(graph: ModelGraph, device: str = "cpu", progress: bool = True) -> DeviceProfile:
    """The local measured profile of ``graph``: shipped with splitgym, cached, or measured now
    (at 1 torch thread, the executors' default)."""
    board = "local-" + device.split(":")[0]
    fname = _file_name(board, graph.name, graph.input_shape)
    for folder in (profile_dir(), SHIPPED_PROFILES):
        if (folder / fname).exists():
            prof = DeviceProfile.load(folder / fname)
            prof.check(graph)
            return prof
    from splitgym.costmodels.profiler import (
        profile_model,  # measuring needs torch benchmark machinery
    )

    prof = profile_model(graph, device=device, name=board, progress=progress, threads=1)  # as the executors run
    prof.save(profile_dir() / fname)
    return prof


def _stored(board: str, graph: ModelGraph) -> DeviceProfile | None:
    """A measured (or brought) profile of ``board`` in the store or shipped with splitgym; a
    derived one found there is skipped, so an old ``profile --board`` output never shadows a
    derivation made with today's figures."""
    fname = _file_name(board, graph.name, graph.input_shape)
    for folder in (profile_dir(), SHIPPED_PROFILES):
        if (folder / fname).exists():
            prof = DeviceProfile.load(folder / fname)
            if prof.kind != "derived":
                prof.check(graph)
                return prof
    return None


def load_profile_file(spec: ProfileSpec, graph: ModelGraph) -> DeviceProfile:
    """A brought profile file, checked against its recorded hash and against ``graph``; every
    mismatch is one line naming the device."""
    where = spec.label()
    doc = read_json(spec.board, "profile", ProfileError)
    if spec.sha256 is not None and canonical_sha256(doc) != spec.sha256:
        raise ProfileError(
            f"{where}.profile: {Path(spec.board).name} has sha256 {canonical_sha256(doc)[:12]}..., "
            f"expected {spec.sha256[:12]}... (the file changed since the plan was made)"
        )
    prof = DeviceProfile.from_json(doc, where=f"{where}.profile {Path(spec.board).name}")
    try:
        prof.check(graph)
    except ProfileError as exc:
        raise ProfileError(f"{where}.profile: {exc}") from None
    return prof


def _source(spec: ProfileSpec, graph: ModelGraph, cache: dict[str, DeviceProfile]) -> DeviceProfile:
    """The profile a spec's form is applied to (the default form's, except that an explicit
    form on a derived board is fitted to the derived raw table, not to derive's linear shape)."""
    board = spec.board
    if board.startswith("local-"):
        return load_or_measure(graph, device=board.removeprefix("local-"))
    if spec.is_file:
        return load_profile_file(spec, graph)
    stored = _stored(board, graph) if spec.derive is None else None  # an asked-for derivation is derived
    if stored is not None:
        return stored
    base = cache.get("local-cpu") or load_or_measure(graph, "cpu")
    cache["local-cpu"] = base
    if spec.form is None:
        return derive(base, board, graph, shape=spec.derive)  # type: ignore[arg-type]
    # an explicit form is fitted to the raw derived table: the GPU model's, or the scaled measurement
    raw = spec.derive or ("gpu" if lookup_board(board).processor == "gpu" else "table")
    return derive(base, board, graph, shape=raw)  # type: ignore[arg-type]


def profile_for(
    spec: ProfileSpec | str, graph: ModelGraph, cache: dict[str, DeviceProfile] | None = None
) -> DeviceProfile:
    """The profile of a device spec (or a bare board name) for ``graph``: measured here for
    local-cpu/local-cuda, a brought file, a measured profile in the store, else derived; in the
    spec's form. ``cache`` is keyed by :meth:`ProfileSpec.key` (the board name for a default spec)."""
    spec = ProfileSpec(spec) if isinstance(spec, str) else spec
    cache = {} if cache is None else cache
    key = spec.key()
    if key in cache:
        return cache[key]
    plain = ProfileSpec(spec.board, sha256=spec.sha256, derive=spec.derive, where=spec.where)
    src = cache.get(plain.key())
    if src is None and (spec.form is None or spec.board.startswith("local-") or spec.is_file):
        src = cache[plain.key()] = _source(plain, graph, cache)
    if spec.form is None:
        prof = src
    else:
        src = src if src is not None and src.kind != "derived" else _source(spec, graph, cache)
        prof = src.in_form(spec.form, k=spec.k, knots=spec.knots, where=spec.label())
    cache[key] = prof
    return prof
