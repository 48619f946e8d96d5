"""NPTP's cost model: tiles of the image, per-layer halo exchange, compute, links, memory.

Our reading of the paper's lost Eqs. 1-9 (REFERENCE.md section 2, PAPERS-AUDIT A.2, B.2, C.2),
with every choice the text leaves open:

* **Tiles** (Eq. 7): one rectangle of the input image per device, covering it exactly
  (:mod:`tile_layouts`). Every device runs *every* unit of the feature extractor (the spatial
  units of :class:`ModelGraph`) on its own tile; the head (pooling + classifier) runs on one
  device (NP L9, L45).
* **Ownership per layer** (Eq. 2 propagates only sizes): a tile boundary ``b`` on the image owns
  ``floor(b * H_l / H)`` on unit ``l``'s output (:func:`tile_layouts.layer_rects`), so the tiles
  are an exact partition at every layer and nothing is computed twice.
* **Halo** (Eqs. 4-5, reconstructed from the kernel as AUDIT B.2 item 20 says): to produce its
  owned output region ``O`` of unit ``l``, a device needs the input region given by the unit's
  exact row and column maps (kernel, stride, padding, dilation; :mod:`rowmap`); every part of it
  owned by another device at the previous layer is received from that device after that layer
  (exchanged, never recomputed). Volume = cells x ``C_in`` x 4 bytes (fp32). ``counting="exact"``
  (the default: what the executors move) counts every received cell, diagonal corners included;
  ``counting="edges"`` counts only cells across a shared *edge* (the audit's convention under
  which Fig. 2's T layout needs 18 units: A.2).
* **Compute** (Eqs. 1, 3: ops / clock frequency, AUDIT item 19): from the device's *profile*
  instead of a clock rate. A profile measures each unit on full-width bands of ``h`` rows at a
  reference input size; a tile region of ``r x c`` output elements costs what a band of the same
  *area share* costs on the reference layer, scaled by the ratio of the layer areas:
  ``t = (A_l / A_ref) * T_ref(share * H_ref)`` with ``share = r*c / A_l``. So at the profile's own
  size a tile costs what a band of equal area costs (the width tables of a ``--widths`` profile are
  not used), and at larger images (the paper's 512-4096) the measured curve is scaled by area
  (the work of a convolution is linear in its output area). Profiles of the model at its shipped
  size are used when the graph's own size has none (measuring at 4096 here would take hours).
* **Links** (Eq. 6): each halo piece is one message from its owner on the link
  ``min(cap_src, cap_dst)`` with the network's latency and overhead (:mod:`network`). On a
  ``shared`` medium a layer's messages go one at a time (:func:`network.fifo_finish_list`, in
  receiver then sender order; all are ready when the layer's exchange starts), so a device's
  exchange time for that layer is when its last message arrives; the gather at the head is queued
  the same way, first ready first served.
* **Compute mode** ``compute="ops"`` (:mod:`tile_compute`): Eqs. 1-3 as the paper writes them,
  ops over clock frequency x ops per cycle from the board's specification, instead of profiles.
* **Scatter** (``scatter=True``; not in the paper's Eq. 9): before its first layer each device
  receives its input tile (``area x C x 4`` bytes) from the requester, which holds the image, on
  the link ``min(cap_requester, cap_d)`` with the network's per-message latency (on a ``shared``
  medium one tile at a time, in device order). Off by default here, so the model is the paper's
  Eq. 9 alone; the end-to-end figures (``nptp_tables``, NPTP-v1) turn it on.
* **Latency** (Eq. 9): device ``d``'s feature-extractor time is the sum over units of its compute
  plus the time of every halo message it receives (the paper's additive per-device form; no
  overlap of transfers and compute is assumed), plus its scatter when on. The objective is the
  slowest device's. :meth:`TileCostModel.score` computes it in numpy (:mod:`tile_batch`, also
  for a batch of layouts: :meth:`TileCostModel.score_batch`); ``path="python"`` runs the
  original loop (the reference the numpy path is tested against).
  ``end_to_end_s`` adds, outside the objective, the gather of the last feature maps at the head
  device (the device owning the most of the last layer, ties to the first; or the plan's
  ``head_device``) and the head's profiled time.
* **Memory** (Eq. 8): every device holds the feature extractor's weights (fp32) and, at its
  worst unit, the received input region (own + halo) plus its output region; the head device also
  the head's weights and the gathered feature map. Two kinds of cap per device, from
  ``conf/devices/*.yaml`` entries or mappings, make a plan infeasible when exceeded:
  ``memory_mb`` (MiB, on the whole peak) and ``activation_share`` (the activations may take at
  most this share of what the whole image needs on one device; weights come on top). The paper
  capped GPU memory to make its devices heterogeneous (NP L52; values lost); an absolute cap
  binds only at one image size, a share binds at every size, which is what forces the three
  devices to collaborate in the experiments (with links of 0.1-1 MB/s and no cap, the cheapest
  plan gives every pixel but one to the fastest device). :attr:`TileScore.key` ranks feasible
  plans by latency before any infeasible one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from splitgym.costmodels.cluster import Cluster, load_conf
from splitgym.costmodels.errors import ConfigError, PlanError
from splitgym.costmodels.graph import DTYPE_BYTES, ModelGraph
from splitgym.costmodels.network import fifo_finish_list, link_seconds
from splitgym.costmodels.plan import Plan, PlanDevice, PlanModel, PlanNetwork, Tile
from splitgym.costmodels.profile_spec import ProfileSpec
from splitgym.costmodels.profiles import (
    SHIPPED_PROFILES,
    DeviceProfile,
    UnitTable,
    profile_dir,
    profile_for,
)
from splitgym.costmodels.slicing import Region
from splitgym.costmodels.tiles.tile_batch import BatchWalk, TileArrays
from splitgym.costmodels.tiles.tile_compute import COMPUTE_MODES, OpsRate, ops_coefficients
from splitgym.costmodels.tiles.tile_layouts import layer_rects

__all__ = [
    "TileCostModel",
    "TileScore",
    "Exchange",
    "exchanges",
    "score_tiles",
    "tile_plan",
    "plan_rects",
    "memory_caps",
    "cluster_caps",
    "MemoryCaps",
    "NO_CAPS",
    "intersect",
    "Counting",
]

Counting = Literal["exact", "edges"]


def intersect(a: Region, b: Region) -> Region:
    """The overlap of two rectangles (possibly empty)."""
    return Region(max(a.r0, b.r0), min(a.r1, b.r1), max(a.c0, b.c0), min(a.c1, b.c1))


def _area(r: Region) -> int:
    return r.rows * r.cols


def _hull(paths: tuple[tuple[int, int, int, int], ...], a: int, b: int) -> tuple[int, int]:
    """:meth:`UnitMap.range` of a non-empty ``[a, b)`` on the maps' ``(S, P, C, hi)`` tuples."""
    lo, hi_end = None, None
    for S, P, C, hi in paths:
        start = min(hi, max(0, S * a - P))
        end = max(start, min(hi, S * b + C))
        lo = start if lo is None or start < lo else lo
        hi_end = end if hi_end is None or end > hi_end else hi_end
    return lo, hi_end  # type: ignore[return-value]


def _edge_cells(piece: Region, own: Region) -> int:
    """Cells of ``piece`` in the rows or the columns of ``own`` (diagonal corners left out)."""
    if piece.empty:
        return 0
    rows_out = piece.rows - max(0, min(piece.r1, own.r1) - max(piece.r0, own.r0))
    cols_out = piece.cols - max(0, min(piece.c1, own.c1) - max(piece.c0, own.c0))
    return _area(piece) - rows_out * cols_out


@dataclass(frozen=True)
class Exchange:
    """Unit ``unit`` for every device: what it owns, what it needs, what it receives from whom."""

    unit: int
    owned: list[Region]  # output region per device
    needed: list[Region]  # input region per device (own + halo), empty when owned is
    recv: list[tuple[int, int, Region]]  # (src, dst, region of the unit's input)


def exchanges(graph: ModelGraph, rects: Sequence[Region]) -> list[Exchange]:
    """The halo schedule of a tile layout: per unit, owned/needed regions and every message."""
    _, h, w = graph.input_shape
    prev = list(rects)
    out = []
    for u in graph.units:
        hl, wl = u.out_shape[1], u.out_shape[2]
        own = layer_rects(rects, h, w, hl, wl)
        need, recv = [], []
        for d, o in enumerate(own):
            if o.empty:
                need.append(Region(0, 0, 0, 0))
                continue
            rr, cc = u.row_map.range(o.r0, o.r1), u.col_map.range(o.c0, o.c1)
            r = Region(rr[0], rr[1], cc[0], cc[1])
            need.append(r)
            for e, p in enumerate(prev):
                if e != d:
                    piece = intersect(r, p)
                    if not piece.empty:
                        recv.append((e, d, piece))
        out.append(Exchange(u.index, own, need, recv))
        prev = own
    return out


@dataclass
class TileScore:
    """Where the time of one tile layout goes (what planners, the env and experiments read)."""

    devices: list[str]
    rects: list[Region]
    latency: float  # the objective: slowest device's compute + receive time (feature extractor)
    compute: np.ndarray  # (N,) seconds
    comm_seconds: np.ndarray  # (N,) seconds of the halo messages each device receives
    comm_bytes: np.ndarray  # (N,) bytes each device receives
    layer_elements: np.ndarray  # (U,) halo elements (cells x channels) moved at each unit
    peak_memory: np.ndarray  # (N,) bytes
    memory_cap: np.ndarray  # (N,) bytes (inf: no cap)
    activation: np.ndarray  # (N,) bytes of activations at the worst unit
    activation_cap: np.ndarray  # (N,) bytes (inf: no cap)
    head_device: str
    gather_seconds: float
    head_seconds: float
    end_to_end: float
    messages: int
    scatter_seconds: np.ndarray | None = None  # (N,) seconds to receive the input tile (None: off)

    @property
    def layer_bytes(self) -> np.ndarray:
        return self.layer_elements * DTYPE_BYTES

    @property
    def total_bytes(self) -> float:
        return float(self.comm_bytes.sum())

    @property
    def overflow(self) -> float:
        """Bytes over the cap, summed over devices (0: feasible)."""
        return float(
            np.maximum(0.0, self.peak_memory - self.memory_cap).sum()
            + np.maximum(0.0, self.activation - self.activation_cap).sum()
        )

    @property
    def feasible(self) -> bool:
        return self.overflow == 0.0

    @property
    def key(self) -> tuple[int, float]:
        """Sort key: feasible plans by latency, then infeasible ones by how far over they are."""
        return (0, self.latency) if self.feasible else (1, self.overflow)

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_s": self.latency,
            "end_to_end_s": self.end_to_end,
            "feasible": self.feasible,
            "head_device": self.head_device,
            "gather_s": self.gather_seconds,
            "head_s": self.head_seconds,
            "messages": self.messages,
            "total_bytes": self.total_bytes,
            "layer_bytes": self.layer_bytes.tolist(),
            "per_device": [
                {
                    "device": n,
                    "tile": list(r),
                    "compute_s": float(c),
                    "comm_s": float(s),
                    "recv_bytes": float(b),
                    "peak_memory_mb": float(m / 2**20),
                    "memory_cap_mb": (None if not np.isfinite(cap) else float(cap / 2**20)),
                    "activation_mb": float(a / 2**20),
                    "activation_cap_mb": (None if not np.isfinite(ac) else float(ac / 2**20)),
                    "scatter_s": float(sc),
                    "total_s": float(sc + c + s),
                }
                for n, r, c, s, b, m, cap, a, ac, sc in zip(
                    self.devices,
                    self.rects,
                    self.compute,
                    self.comm_seconds,
                    self.comm_bytes,
                    self.peak_memory,
                    self.memory_cap,
                    self.activation,
                    self.activation_cap,
                    np.zeros(len(self.devices)) if self.scatter_seconds is None else self.scatter_seconds,
                )
            ],
        }


@dataclass
class _UnitRate:
    """Seconds of one unit on one device for an output region of ``elems`` elements."""

    heights: np.ndarray
    seconds: np.ndarray
    h_ref: float
    scale: float  # A_l / A_ref
    area: float  # A_l

    @classmethod
    def build(cls, table: UnitTable, h: int, w: int) -> _UnitRate:
        h_ref, w_ref = table.heights[-1], table.widths[-1]
        return cls(
            np.asarray(table.heights, dtype=float),
            np.asarray(table.seconds, dtype=float)[:, -1],
            float(h_ref),
            h * w / (h_ref * w_ref),
            float(h * w),
        )

    def __post_init__(self) -> None:
        self._xs, self._ys = self.heights.tolist(), self.seconds.tolist()

    def __call__(self, elems: int) -> float:
        if elems <= 0:
            return 0.0
        rows = elems / self.area * self.h_ref
        xs, ys = self._xs, self._ys
        if rows < xs[0]:  # below the smallest measured band: linear to zero
            return float(self.scale * ys[0] * rows / xs[0])
        return float(self.scale * _interp(rows, xs, ys))


def _interp(x: float, xs: list[float], ys: list[float]) -> float:
    """``np.interp(x, xs, ys)`` for one ``x >= xs[0]`` in plain Python, the same arithmetic as
    numpy's C loop (``slope * (x - xs[j]) + ys[j]``, exact knots and the right end as given)."""
    if x >= xs[-1]:
        return ys[-1]
    j = bisect_right(xs, x) - 1
    if xs[j] == x:
        return ys[j]
    return (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j]) * (x - xs[j]) + ys[j]


def _has_profile(graph: ModelGraph, board: str) -> bool:
    fname = f"{board}_{graph.name}_{'x'.join(map(str, graph.input_shape))}.json"
    return (profile_dir() / fname).exists() or (SHIPPED_PROFILES / fname).exists()


def _reference_profile(
    spec: ProfileSpec, graph: ModelGraph, cache: dict[str, DeviceProfile], ref: dict[tuple[int, ...], ModelGraph]
) -> DeviceProfile:
    """The board's profile for ``graph``'s model: a given one, else at the graph's size when the
    local one exists (shipped or cached), else at the model's default size; a derived board is
    derived on the graph its local-cpu profile was measured for."""
    board = spec.board
    if spec.key() in cache:
        prof = cache[spec.key()]
    else:
        if board.endswith(".json"):
            on = graph
        elif "local-cpu" in cache and not board.startswith("local-"):
            on = _graph_at(graph, tuple(cache["local-cpu"].input_shape), ref)
        elif _has_profile(graph, board if board.startswith("local-") else "local-cpu"):
            on = graph
        else:
            on = _graph_at(graph, None, ref)
        prof = profile_for(spec, on, cache)
    if prof.model != graph.name or len(prof.units) != graph.num_units:
        raise ConfigError(
            f"profiles: {prof.name} is for {prof.model} with {len(prof.units)} units, "
            f"not {graph.name} with {graph.num_units}"
        )
    return prof


def _graph_at(graph: ModelGraph, shape: tuple[int, ...] | None, ref: dict[tuple[int, ...], ModelGraph]) -> ModelGraph:
    """``graph``'s model at another input shape (None: its default size), traced once."""
    if shape is not None and tuple(shape) == tuple(graph.input_shape):
        return graph
    key = tuple(shape) if shape is not None else ()
    if key not in ref:
        ref[key] = ModelGraph.from_torchvision(graph.name, None if shape is None else (shape[1], shape[2]))
    return ref[key]


@dataclass(frozen=True)
class MemoryCaps:
    """Per device name: ``mb`` (MiB on the whole peak) and ``share`` (of the whole-image
    activations); a device missing from a mapping has no such cap."""

    mb: dict[str, float]
    share: dict[str, float]

    def __bool__(self) -> bool:
        return bool(self.mb or self.share)


NO_CAPS = MemoryCaps({}, {})


def cluster_caps(cluster: Cluster, caps: str | None = "auto") -> MemoryCaps:
    """Memory caps for a planner's ``caps`` option: ``"auto"`` reads them from the device group
    the cluster was built from (``conf/devices/<cluster.name>.yaml``; none if there is no such
    file), ``"none"`` (or None) sets no cap, anything else is a device-group name or path."""
    if caps is None or caps == "none":
        return NO_CAPS
    if caps == "auto":
        try:
            found = memory_caps(cluster.name)
        except ConfigError:
            return NO_CAPS
        return MemoryCaps(
            {k: v for k, v in found.mb.items() if k in cluster.names},
            {k: v for k, v in found.share.items() if k in cluster.names},
        )
    found = memory_caps(caps)
    unknown = [k for k in [*found.mb, *found.share] if k not in cluster.names]
    if unknown:
        raise ConfigError(f"caps: device {unknown[0]!r} of {caps} is not in the cluster ({', '.join(cluster.names)})")
    return found


def memory_caps(devices: str | Mapping[str, Any]) -> MemoryCaps:
    """Per device name, its ``memory_mb`` and ``activation_share`` from a device-group config
    (name, path or mapping); devices without an entry get no such cap."""
    cfg = load_conf("devices", devices) if isinstance(devices, str) else dict(devices)
    mb: dict[str, float] = {}
    share: dict[str, float] = {}
    for d in cfg.get("devices", []):
        for key, out in (("memory_mb", mb), ("activation_share", share)):
            if key in d:
                v = d[key]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                    raise ConfigError(f"devices.{d.get('name')}.{key}: must be a number > 0, got {v!r}")
                out[str(d["name"])] = float(v)
    return MemoryCaps(mb, share)


class TileCostModel:
    """Precomputed per-device, per-unit rates and links for one (model, cluster): score layouts.

    Args:
        profiles: per board name, a :class:`DeviceProfile` of this model (any input size: it is
            scaled by area); missing boards are loaded or derived as the simulator does.
        memory_mb: per device name, its memory cap in MiB (missing: no cap).
        activation_share: per device name, the largest share of the whole image's activation
            peak its activations may take (missing: no cap).
        counting: ``"exact"`` or ``"edges"`` (see the module docstring).
        scatter: add each device's receipt of its input tile to its time (module docstring).
        compute: ``"profile"`` (measured/derived profiles) or ``"ops"`` (Eqs. 1-3, :mod:`tile_compute`).
        rate_cache: a dict shared by models of one graph (NPTP-v1 builds one per drawn instance):
            each profile's per-unit rates are built once, keyed by (profile name, model, input shape).
    """

    def __init__(
        self,
        graph: ModelGraph,
        cluster: Cluster,
        profiles: Mapping[str, DeviceProfile] | None = None,
        memory_mb: Mapping[str, float] | None = None,
        counting: Counting = "exact",
        activation_share: Mapping[str, float] | None = None,
        scatter: bool = False,
        compute: str = "profile",
        rate_cache: dict[tuple[Any, ...], list[Any]] | None = None,
    ) -> None:
        if counting not in ("exact", "edges"):
            raise ConfigError(f"counting: must be 'exact' or 'edges', got {counting!r}")
        if compute not in COMPUTE_MODES:
            raise ConfigError(f"compute: must be one of {', '.join(COMPUTE_MODES)}, got {compute!r}")
        if not isinstance(scatter, (bool, np.bool_)):
            raise ConfigError(f"scatter: must be true or false, got {scatter!r}")
        self.scatter, self.compute = bool(scatter), compute
        self.graph = graph
        self.cluster = cluster
        self.counting = counting
        self.N = cluster.size
        self.names = cluster.names
        caps = dict(memory_mb or {})
        shares = dict(activation_share or {})
        for key, given in (("memory_mb", caps), ("activation_share", shares)):
            unknown = [k for k in given if k not in self.names]
            if unknown:
                raise ConfigError(f"{key}: unknown device {unknown[0]!r} (cluster has {', '.join(self.names)})")
        self.caps = MemoryCaps(caps, shares)
        self.cap_bytes = np.array([caps.get(n, np.inf) * 2**20 for n in self.names])
        full_act = max(
            (u.in_shape[0] * u.in_shape[1] * u.in_shape[2] + u.out_shape[0] * u.out_shape[1] * u.out_shape[2])
            * DTYPE_BYTES
            for u in graph.units
        )
        self.activation_cap = np.array([shares.get(n, np.inf) * full_act for n in self.names])
        self.full_activation_bytes = float(full_act)  # the whole image's activation peak on one device
        cache = dict(profiles or {})
        ref: dict[tuple[int, ...], ModelGraph] = {}
        self.profiles = [_reference_profile(d.spec, graph, cache, ref) for d in cluster.devices]
        self.ops_coef = ops_coefficients(graph, cluster) if compute == "ops" else None
        rates = {} if rate_cache is None else rate_cache
        for p in self.profiles:
            key = (p.name, graph.name, tuple(graph.input_shape))
            if key not in rates:
                rates[key] = [_UnitRate.build(p.units[u.index], u.out_shape[1], u.out_shape[2]) for u in graph.units]
        self.rates: list[list[Any]] = [rates[(p.name, graph.name, tuple(graph.input_shape))] for p in self.profiles]
        if self.ops_coef is not None:
            self.rates = [[OpsRate(float(c)) for c in row] for row in self.ops_coef]
        self.head_seconds = np.array([p.head_seconds for p in self.profiles])
        self.weight_bytes = float(sum(u.params for u in graph.units) * DTYPE_BYTES)
        self.head_bytes = float((graph.head.params if graph.head else 0) * DTYPE_BYTES)
        net = cluster.network
        self.bw = net.matrix(self.names)
        self.latency_s, self.overhead_s = net.latency_s, net.message_s
        self.shared = net.shared
        self._bw = self.bw.tolist()  # the scoring loop's link capacities, as Python floats
        req = net.cap(cluster.requester)
        self.scatter_mbps = np.array([min(req, net.cap(n)) for n in self.names]) if self.scatter else None
        self._units: list[tuple[Any, ...]] | None = None
        self._arrays: TileArrays | None = None

    def options(self) -> dict[str, Any]:
        """The objective's settings a plan records, so re-scoring it uses the same model."""
        return {"scatter": self.scatter, "compute": self.compute}

    @property
    def arrays(self) -> TileArrays:
        """The numpy form of the model (built on first use)."""
        if self._arrays is None:
            self._arrays = TileArrays(self)
        return self._arrays

    def full_seconds(self, d: int) -> float:
        """Device ``d``'s compute for the whole image alone (every unit at full size)."""
        return float(sum(r(u.out_shape[1] * u.out_shape[2]) for r, u in zip(self.rates[d], self.graph.units)))

    def seconds(self, src: int, dst: int, nbytes: float) -> float:
        """One message's time on the link src -> dst (0 bytes: no message)."""
        if nbytes <= 0 or src == dst:
            return 0.0
        return link_seconds(nbytes, self.bw[src, dst], self.latency_s, self.overhead_s)

    def _unit_rows(self) -> list[tuple[Any, ...]]:
        """Per unit, what :meth:`score`'s loop reads, as plain Python values (built once)."""
        if self._units is None:
            self._units = [
                (
                    u.index,
                    u.out_shape[1],
                    u.out_shape[2],
                    u.in_shape[0],
                    u.out_shape[0],
                    tuple((p.S, p.P, p.C, p.hi) for p in u.row_map.paths),
                    tuple((p.S, p.P, p.C, p.hi) for p in u.col_map.paths),
                    [self.rates[d][u.index] for d in range(self.N)],
                )
                for u in self.graph.units
            ]
        return self._units

    def _walk(self, rects: list[Region]) -> tuple[Any, ...]:
        """The halo schedule of :func:`exchanges` and its costs in one pass over plain tuples (the
        same sums in the same order as scoring the :class:`Exchange` list: bit-equal); the
        reference that :mod:`tile_batch`'s numpy path is tested against."""
        N, edges, bw = self.N, self.counting == "edges", self._bw
        lat, ovh = self.latency_s, self.overhead_s
        _, h, w = self.graph.input_shape
        compute, comm_s, comm_b, act = [0.0] * N, [0.0] * N, [0.0] * N, [0.0] * N
        layer_el = [0.0] * self.graph.num_units
        messages = 0
        prev = [tuple(r) for r in rects]
        for ui, hl, wl, c_in, c_out, rpaths, cpaths, rates in self._unit_rows():
            queue: list[tuple[int, float]] | None = [] if self.shared else None
            own = [(r0 * hl // h, r1 * hl // h, c0 * wl // w, c1 * wl // w) for r0, r1, c0, c1 in rects]
            for d, (a0, a1, b0, b1) in enumerate(own):
                o_area = max(0, a1 - a0) * max(0, b1 - b0)
                compute[d] += rates[d](o_area)
                if a1 <= a0 or b1 <= b0:
                    act[d] = max(act[d], o_area * c_out * DTYPE_BYTES)
                    continue
                n0, n1 = _hull(rpaths, a0, a1)
                m0, m1 = _hull(cpaths, b0, b1)
                act[d] = max(act[d], ((n1 - n0) * (m1 - m0) * c_in + o_area * c_out) * DTYPE_BYTES)
                for e, (p0, p1, q0, q1) in enumerate(prev):
                    if e == d:
                        continue
                    i0, i1 = (n0 if n0 > p0 else p0), (n1 if n1 < p1 else p1)
                    if i1 <= i0:
                        continue
                    j0, j1 = (m0 if m0 > q0 else q0), (m1 if m1 < q1 else q1)
                    if j1 <= j0:
                        continue
                    cells = (i1 - i0) * (j1 - j0)
                    if edges:
                        cells = _edge_cells(Region(i0, i1, j0, j1), Region(*prev[d]))
                        if cells == 0:
                            continue
                    nb = cells * c_in * DTYPE_BYTES
                    layer_el[ui] += cells * c_in
                    comm_b[d] += nb
                    if queue is None:
                        comm_s[d] += link_seconds(nb, bw[e][d], lat, ovh)
                    else:
                        queue.append((d, link_seconds(nb, bw[e][d], lat, ovh)))
                    messages += 1
            if queue:
                self._exchange_shared(queue, comm_s)
            prev = own
        return compute, comm_s, comm_b, act, layer_el, messages, prev

    def _scatter_python(self, rects: list[Region]) -> list[float]:
        """Each device's receipt of its input tile from the requester (zeros when off)."""
        if self.scatter_mbps is None:
            return [0.0] * self.N
        c0 = self.graph.input_shape[0]
        secs = [
            link_seconds(_area(r) * c0 * DTYPE_BYTES, float(m), self.latency_s, self.overhead_s)
            for r, m in zip(rects, self.scatter_mbps)
        ]
        if not self.shared:
            return secs
        sent = [d for d in range(self.N) if secs[d] > 0]
        for d, done in zip(sent, fifo_finish_list([0.0] * len(sent), [secs[d] for d in sent])):
            secs[d] = done
        return secs

    @staticmethod
    def _exchange_shared(queue: list[tuple[int, float]], comm_s: list[float]) -> None:
        """Add, in place, to each receiver's exchange time the arrival of its last message of one
        layer when the layer's messages (``(receiver, seconds)``) share one medium."""
        last: dict[int, float] = {}
        for (d, _), done in zip(queue, fifo_finish_list([0.0] * len(queue), [q[1] for q in queue])):
            last[d] = done
        for d, done in last.items():
            comm_s[d] += done

    def _gathered(self, total: np.ndarray, last: list[Region], h: int) -> float:
        """When the last feature map reaches the head ``h`` (its own time when it holds all)."""
        c_last = self.graph.units[-1].out_shape[0]
        secs = [self.seconds(d, h, _area(last[d]) * c_last * DTYPE_BYTES) for d in range(self.N)]
        ready = [float(t) for t in total]
        if self.shared:
            sent = [d for d in range(self.N) if secs[d] > 0]
            for d, done in zip(sent, fifo_finish_list([ready[d] for d in sent], [secs[d] for d in sent])):
                secs[d] = done - ready[d]
        return max(ready[d] + secs[d] for d in range(self.N))

    def score(self, rects: Sequence[Region], head_device: str | None = None, path: str = "numpy") -> TileScore:
        """Score one layout: ``rects[i]`` is device ``i``'s tile of the input image (``path``:
        ``"numpy"``, or ``"python"`` for the reference loop)."""
        rects = [Region(*map(int, r)) for r in rects]
        if len(rects) != self.N:
            raise PlanError(f"tiles: need one tile per device ({self.N}), got {len(rects)}")
        if path == "numpy":
            b = self.arrays.walk(np.array([rects], dtype=np.int64))
            parts = [b.compute[0], b.comm_seconds[0], b.comm_bytes[0], b.activation[0], b.layer_elements[0]]
            messages, last, scatter = int(b.messages[0]), [Region(*map(int, r)) for r in b.last[0]], b.scatter[0]
        elif path == "python":
            lists = self._walk(rects)
            parts = [np.array(v, dtype=float) for v in lists[:5]]
            messages, last = lists[5], [Region(*r) for r in lists[6]]
            scatter = np.array(self._scatter_python(rects))
        else:
            raise ConfigError(f"path: must be 'numpy' or 'python', got {path!r}")
        return self._assemble(rects, parts, messages, last, scatter, head_device)

    def _assemble(
        self,
        rects: list[Region],
        parts: list[np.ndarray],
        messages: int,
        last: list[Region],
        scatter: np.ndarray,
        head_device: str | None,
    ) -> TileScore:
        g = self.graph
        compute, comm_s, comm_b, act, layer_el = parts
        total = scatter + compute + comm_s
        latency = float(total.max())
        if head_device is not None:
            if head_device not in self.names:
                raise PlanError(f"head_device: unknown device {head_device!r} (devices: {', '.join(self.names)})")
            h = self.names.index(head_device)
        else:
            h = int(np.argmax([_area(r) for r in last]))
        ready = self._gathered(total, last, h)
        peak = self.weight_bytes + act
        if g.head is not None:
            peak[h] += self.head_bytes + g.units[-1].out_bytes
        head_s = float(self.head_seconds[h]) if g.head is not None else 0.0
        return TileScore(
            devices=list(self.names),
            rects=rects,
            latency=latency,
            compute=compute,
            comm_seconds=comm_s,
            comm_bytes=comm_b,
            layer_elements=layer_el,
            peak_memory=peak,
            memory_cap=self.cap_bytes.copy(),
            activation=act,
            activation_cap=self.activation_cap.copy(),
            head_device=self.names[h],
            gather_seconds=float(ready - total[h]),
            head_seconds=head_s,
            end_to_end=float(ready + head_s),
            messages=messages,
            scatter_seconds=scatter if self.scatter else None,
        )

    def score_batch(self, rects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latency and memory overflow (bytes over the caps, 0: feasible) of a batch of layouts,
        ``rects`` of shape ``(B, N, 4)``; the head sits on the device owning most of the last layer."""
        b: BatchWalk = self.arrays.walk(rects)
        latency = b.total.max(-1)
        peak = self.weight_bytes + b.activation
        if self.graph.head is not None:
            last = b.last
            area = np.maximum(0, last[..., 1] - last[..., 0]) * np.maximum(0, last[..., 3] - last[..., 2])
            h = np.argmax(area, -1)
            peak[np.arange(len(h)), h] += self.head_bytes + self.graph.units[-1].out_bytes
        over = np.maximum(0.0, peak - self.cap_bytes).sum(-1) + np.maximum(0.0, b.activation - self.activation_cap).sum(
            -1
        )
        return latency, over


def plan_rects(plan: Plan) -> list[Region]:
    """A tile plan's rectangles in the order of ``plan.devices`` (exactly one tile each)."""
    if not plan.tiles:
        raise PlanError("tiles: this plan has no tiles")
    by: dict[str, Region] = {}
    for i, t in enumerate(plan.tiles):
        if t.device in by:
            raise PlanError(f"tiles.{i}.device: {t.device!r} has two tiles; NPTP gives one per device")
        by[t.device] = Region(t.rows[0], t.rows[1], t.cols[0], t.cols[1])
    missing = [d.name for d in plan.devices if d.name not in by]
    if missing:
        raise PlanError(f"tiles: device {missing[0]!r} has no tile (one per device)")
    return [by[d.name] for d in plan.devices]


def tile_plan(
    method: str,
    graph: ModelGraph,
    cluster: Cluster,
    rects: Sequence[Region],
    head_device: str | None = None,
    caps: MemoryCaps = NO_CAPS,
    **meta: Any,
) -> Plan:
    """A tile plan, one non-empty rectangle per device of ``cluster`` (in its order)."""
    net = cluster.network
    m = dict(meta)
    if caps.mb:
        m["memory_mb"] = dict(caps.mb)
    if caps.share:
        m["activation_share"] = dict(caps.share)
    return Plan(
        kind="tiles",
        method=method,
        model=PlanModel(name=graph.name, input=graph.input_shape),
        devices=[PlanDevice.from_device(d, net.cap(d.name)) for d in cluster.devices],
        network=PlanNetwork.of(net, cluster.requester),
        tiles=[Tile(device=d.name, rows=(r.r0, r.r1), cols=(r.c0, r.c1)) for d, r in zip(cluster.devices, rects)],
        head_device=head_device,
        meta=m,
    )


def score_tiles(
    graph: ModelGraph,
    cluster: Cluster | None = None,
    rects: Sequence[Region] | Plan | None = None,
    profiles: Mapping[str, DeviceProfile] | None = None,
    memory_mb: Mapping[str, float] | None = None,
    counting: Counting = "exact",
    model: TileCostModel | None = None,
) -> TileScore:
    """Score a layout or a tile plan (its cluster, caps and head device come with it)."""
    head, share, options = None, None, {}
    if isinstance(rects, Plan):
        rects.check(graph)
        plan = rects
        cluster = cluster or plan.cluster()
        memory_mb = memory_mb if memory_mb is not None else plan.meta.get("memory_mb")
        share = plan.meta.get("activation_share")
        head = plan.head_device
        options = {k: plan.meta[k] for k in ("scatter", "compute") if k in plan.meta}
        rects = plan_rects(plan)
    if rects is None or (cluster is None and model is None):
        raise ConfigError("score_tiles: needs a plan, or a cluster and rectangles")
    model = model or TileCostModel(graph, cluster, profiles, memory_mb, counting, share, **options)  # type: ignore[arg-type]
    return model.score(rects, head)
