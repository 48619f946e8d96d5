"""Plan: the one versioned JSON document that says how a model runs on a cluster.

Every method writes one: DistrEdge-style *volumes* with their *row splits*, NPTP *tiles*,
pipeline *stages* (MS-MDI, HiDP model mode), HyPS *neuron splits*, HiDP processor *shares*. The
simulator scores it, the executors run it, exported policies emit it. It is self-contained: the
devices (with their boards and bandwidth caps) and the network travel inside it.

Validation has two levels. On load, the document's structure (pydantic): types, version, ordered
cuts, known devices. Against a :class:`ModelGraph`, its consistency: input size, volumes covering
every unit, rows inside the tensor, tiles covering the image. Either way the first problem becomes
one line naming the field and the bad value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.cluster import REQUESTER, Cluster, Device
from splitgym.costmodels.errors import PlanError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.jsonfile import read_json
from splitgym.costmodels.limits import MAX_LATENCY_MS, MAX_MBPS, MIN_MBPS
from splitgym.costmodels.network import Network
from splitgym.costmodels.profile_forms import Form
from splitgym.costmodels.profile_spec import ProfileSpec, file_sha256, find_profile_file, known_profile
from splitgym.costmodels.profiles import profile_dir
from splitgym.costmodels.validation import first_error as _first_error

__all__ = [
    "Plan",
    "Volume",
    "Tile",
    "Stage",
    "NeuronSplit",
    "NodeShares",
    "Problem",
    "load_plan",
    "PLAN_VERSION",
    "PlanKind",
    "KINDS",
    "infer_kind",
]

#: 2: ``kind`` is explicit (version 1 files load: their kind is inferred once, on load).
PLAN_VERSION = 2
#: What a plan decides, which fixes how it is scored and run (the README's glossary):
#: ``volumes`` (DistrEdge: fused volumes, rows per device), ``tiles`` (NPTP: a rectangle per device),
#: ``neurons`` (HyPS: layer cuts + neuron splits), ``nodes`` (HiDP: node rows + processor shares),
#: ``stages`` (MS-MDI / AR-MDI: each volume whole on one worker of a pipeline).
PlanKind = Literal["volumes", "tiles", "neurons", "nodes", "stages"]
KINDS: tuple[str, ...] = get_args(PlanKind)
#: Per kind: the decision fields it needs (at least one) and the ones it may carry.
_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "volumes": (("volumes",), ("volumes", "head_device")),
    "tiles": (("tiles",), ("tiles", "head_device")),
    "neurons": (("stages", "neuron_splits"), ("stages", "neuron_splits", "head_device")),
    "nodes": (("volumes",), ("volumes", "shares", "modes", "stages", "head_device")),
    "stages": (("volumes",), ("volumes", "stages", "head_device")),
}
_DECISIONS = ("volumes", "tiles", "stages", "neuron_splits", "shares", "modes")


def infer_kind(doc: dict[str, Any]) -> str:
    """The kind of a version-1 document, from the fields it sets (what version 1 left implicit)."""
    has = {f for f in _DECISIONS if doc.get(f)}
    if "tiles" in has:
        return "tiles"
    if "neuron_splits" in has or ("stages" in has and "volumes" not in has):
        return "neurons"
    if {"shares", "modes"} & has or "leader" in (doc.get("meta") or {}):
        return "nodes"
    return "stages" if "stages" in has else "volumes"


NonNegInt = Field(ge=0)


def _mbps(**kw: Any) -> Any:
    """A bandwidth in Mbps within the physical range of :mod:`~splitgym.costmodels.limits`."""
    return Field(ge=MIN_MBPS, le=MAX_MBPS, **kw)


def _millis(default: float = 0.0) -> Any:
    """A per-message time in ms within the physical range of :mod:`~splitgym.costmodels.limits`."""
    return Field(default=default, ge=0, le=MAX_LATENCY_MS)


def _takes_bool(annotation: Any) -> bool:
    return annotation is bool or annotation is Any or any(_takes_bool(a) for a in get_args(annotation))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_boolean_numbers(cls, data: Any) -> Any:
        """pydantic's lax mode reads ``true`` as 1 (a row, a millisecond): refused for every field
        that is not a boolean, as it is in the devices and network YAML."""
        if isinstance(data, dict):
            for name, info in cls.model_fields.items():
                value = data.get(name)
                items = value if isinstance(value, (list, tuple)) else [value]
                if any(isinstance(v, bool) for v in items) and not _takes_bool(info.annotation):
                    raise ValueError(f"{name}: expected a number, not a boolean (got {str(value).lower()[:40]})")
        return data


class PlanModel(_Strict):
    name: str
    input: tuple[int, int, int]


class PlanDevice(_Strict):
    """One device: its board (or its brought profile's file name, never a path), cap, and the
    profile form it was planned with (absent: the board's default, as version-2 files had)."""

    name: str
    board: str
    bandwidth_mbps: float = _mbps()
    form: Form | None = None
    k: int | None = Field(default=None, ge=1)
    knots: int | None = Field(default=None, ge=2)
    derive: Literal["gpu", "linear", "table"] | None = None  # a derived board's shape; absent: its default
    profile_sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")

    @field_validator("name", mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        """A device is referred to by its name (head_device, tiles, stages, executors' ranks), so
        ``""``, blanks and numbers (``300``, which a reader would take as a count) are refused."""
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"a device name must be a non-empty string, got {value!r}"[:120])
        return value

    @classmethod
    def from_device(cls, device: Device, cap_mbps: float) -> PlanDevice:
        spec = device.spec
        if not spec.is_file:
            return cls(name=device.name, board=spec.board, bandwidth_mbps=cap_mbps, **spec.options)
        sha = spec.sha256 or file_sha256(Path(spec.board), spec.label(), PlanError)
        return cls(
            name=device.name, board=Path(spec.board).name, bandwidth_mbps=cap_mbps, profile_sha256=sha, **spec.options
        )

    def device(self, folder: Path | None) -> Device:
        """The cluster's device; a brought profile is found by content (a file seen this run,
        then by name next to the plan, in the profile store, in the working directory)."""
        where = f"devices.{self.name}"
        board = self.board
        if board.endswith(".json"):
            others = [profile_dir(), Path.cwd()]
            board = str(find_profile_file(board, self.profile_sha256, folder, others, where, PlanError))
        spec = ProfileSpec(board, self.form, self.k, self.knots, self.profile_sha256, self.derive, where=where)
        return Device(self.name, board, profile=spec)


class PlanNetwork(_Strict):
    requester_mbps: float = _mbps()
    latency_ms: float = _millis()
    overhead_ms: float = _millis()
    pair_rule: Literal["min"] = "min"
    medium: Literal["switched", "shared"] = "switched"
    transport_ms: float = _millis()  # the measured per-message cost (network.py)

    @classmethod
    def of(cls, net: Network, requester: str) -> PlanNetwork:
        """What a plan records of a cluster's network (caps are per device, in ``devices``)."""
        return cls(
            requester_mbps=net.cap(requester),
            latency_ms=net.latency_s * 1e3,
            overhead_ms=net.overhead_s * 1e3,
            medium=net.medium,  # type: ignore[arg-type]
            transport_ms=net.transport_s * 1e3,
        )


class Volume(_Strict):
    """Units ``first..last`` fused; ``rows`` are the N+1 cut points on the last unit's output
    height: device i computes rows ``[rows[i], rows[i+1])`` (empty when equal)."""

    first: int = Field(ge=0)
    last: int = Field(ge=0)
    rows: list[int]

    @model_validator(mode="after")
    def _ordered(self) -> Volume:
        if self.last < self.first:
            raise ValueError(f"last ({self.last}) before first ({self.first})")
        if any(b < a for a, b in zip(self.rows, self.rows[1:])):
            raise ValueError(f"rows must not decrease, got {self.rows}")
        if self.rows and self.rows[0] != 0:
            raise ValueError(f"rows must start at 0, got {self.rows}")
        return self


class Tile(_Strict):
    """A rectangle of the input image given to one device (NPTP)."""

    device: str
    rows: tuple[int, int]
    cols: tuple[int, int]

    @model_validator(mode="after")
    def _ordered(self) -> Tile:
        if not (0 <= self.rows[0] < self.rows[1] and 0 <= self.cols[0] < self.cols[1]):
            raise ValueError(f"tile needs 0 <= start < end, got rows {self.rows} cols {self.cols}")
        return self


class Stage(_Strict):
    """Units ``first..last`` run whole on one device (a pipeline stage)."""

    device: str
    first: int = Field(ge=0)
    last: int = Field(ge=0)


class NeuronPart(_Strict):
    device: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class NeuronSplit(_Strict):
    """One layer's output neurons/channels divided into parts (HyPS's horizontal partition)."""

    layer: str
    parts: list[NeuronPart] = Field(min_length=1)


class ProcessorShare(_Strict):
    processor: str
    share: float = Field(ge=0, le=1)


class NodeShares(_Strict):
    """How a node divides its work among its processors (HiDP's local partition); with
    ``volume``, only that volume's part (``len(volumes)``: the head), with ``mode`` the local
    partitioning mode chosen for it."""

    device: str
    shares: list[ProcessorShare] = Field(min_length=1)
    volume: int | None = Field(default=None, ge=0)
    mode: Literal["model", "data"] | None = None


class Plan(_Strict):
    """A versioned, self-contained distribution plan (see the README's glossary)."""

    format: Literal["splitgym.plan"] = "splitgym.plan"
    version: Literal[2] = PLAN_VERSION
    kind: PlanKind
    method: str
    model: PlanModel
    devices: list[PlanDevice] = Field(min_length=1)
    network: PlanNetwork
    volumes: list[Volume] = Field(default_factory=list)
    head_device: str | None = None
    tiles: list[Tile] | None = None
    stages: list[Stage] | None = None
    neuron_splits: list[NeuronSplit] | None = None
    shares: list[NodeShares] | None = None
    modes: list[Literal["model", "data"]] | None = None  # HiDP: global mode of every volume
    meta: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Version 1 had no ``kind``: infer it once, here, and read the rest as version 2."""
        if isinstance(data, dict) and data.get("version") == 1 and "kind" not in data:
            return {**data, "version": PLAN_VERSION, "kind": infer_kind(data)}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        need, may = _FIELDS[self.kind]
        set_ = [f for f in _DECISIONS if getattr(self, f)]
        extra = [f for f in set_ if f not in may]
        if extra:
            raise ValueError(f"kind: a {self.kind!r} plan has no {extra[0]!r} (it may set {', '.join(may)})")
        if not any(f in set_ for f in need):
            raise ValueError(f"kind: a {self.kind!r} plan needs {' or '.join(need)}")
        names = [d.name for d in self.devices]
        if len(set(names)) != len(names) or REQUESTER in names:
            raise ValueError(f"devices: names must be unique and not {REQUESTER!r}, got {names}")
        for i, v in enumerate(self.volumes):
            if len(v.rows) != len(names) + 1:
                raise ValueError(
                    f"volumes.{i}.rows: needs {len(names) + 1} cut points for {len(names)} devices, got {v.rows}"
                )
        known = set(names)
        refs = [("head_device", self.head_device)] if self.head_device else []
        refs += [(f"tiles.{i}.device", t.device) for i, t in enumerate(self.tiles or [])]
        refs += [(f"stages.{i}.device", s.device) for i, s in enumerate(self.stages or [])]
        refs += [
            (f"neuron_splits.{i}.parts.{j}.device", p.device)
            for i, ns in enumerate(self.neuron_splits or [])
            for j, p in enumerate(ns.parts)
        ]
        refs += [(f"shares.{i}.device", s.device) for i, s in enumerate(self.shares or [])]
        if self.modes is not None and len(self.modes) != len(self.volumes):
            raise ValueError(f"modes: one per volume ({len(self.volumes)}), got {len(self.modes)}")
        for where, name in refs:
            if name not in known:
                raise ValueError(f"{where}: unknown device {name!r} (plan devices: {', '.join(names)})")
        return self

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def from_volumes(
        cls,
        method: str,
        graph: ModelGraph,
        cluster: Cluster,
        partition: list[tuple[int, int]],
        cuts: np.ndarray | list[list[int]],
        kind: PlanKind = "volumes",
        **extra: Any,
    ) -> Plan:
        """A volume plan from a partition (``(first, last)`` per volume) and cut points
        (one row of N+1 per volume); ``kind`` ``nodes`` or ``stages`` for the refinements."""
        net = cluster.network
        return cls(
            kind=kind,
            method=method,
            model=PlanModel(name=graph.name, input=graph.input_shape),
            devices=[PlanDevice.from_device(d, net.cap(d.name)) for d in cluster.devices],
            network=PlanNetwork.of(net, cluster.requester),
            volumes=[
                Volume(first=f, last=l, rows=[int(x) for x in c])
                for (f, l), c in zip(partition, np.asarray(cuts).tolist())
            ],
            **extra,
        )

    def cluster(self) -> Cluster:
        """The cluster this plan was made for (boards, caps, latency)."""
        caps = {d.name: d.bandwidth_mbps for d in self.devices}
        caps[REQUESTER] = self.network.requester_mbps
        pn = self.network
        net = Network(
            caps, pn.latency_ms / 1e3, pn.overhead_ms / 1e3, medium=pn.medium, transport_s=pn.transport_ms / 1e3
        )
        devices = [d.device(None) for d in self.devices]
        return Cluster(self.meta.get("cluster", "plan"), devices, net)

    @property
    def partition(self) -> list[tuple[int, int]]:
        return [(v.first, v.last) for v in self.volumes]

    @property
    def cuts(self) -> np.ndarray:
        return np.array([v.rows for v in self.volumes], dtype=np.int64)

    # -- checks against the model -------------------------------------------------------------
    def problems(self, graph: ModelGraph) -> list[Problem]:
        """Every inconsistency with ``graph`` (empty: the plan fits the model)."""
        out: list[Problem] = []
        if self.model.name != graph.name:
            out.append(Problem("model.name", self.model.name, f"plan is for {self.model.name}, graph is {graph.name}"))
        if tuple(self.model.input) != tuple(graph.input_shape):
            out.append(
                Problem(
                    "model.input", list(self.model.input), f"model {graph.name} was traced at {list(graph.input_shape)}"
                )
            )
        if not (self.volumes or self.tiles or self.stages or self.neuron_splits or self.shares):
            out.append(
                Problem("volumes", [], "the plan decides nothing (no volumes, tiles, stages, neuron splits or shares)")
            )
        if self.volumes:
            n_before = len(out)
            expect = 0
            for i, v in enumerate(self.volumes):
                if v.first != expect:
                    out.append(
                        Problem(f"volumes.{i}.first", v.first, f"expected {expect}: volumes must cover units in order")
                    )
                if v.last >= graph.num_units:
                    out.append(Problem(f"volumes.{i}.last", v.last, f"model has units 0..{graph.num_units - 1}"))
                    break
                h = graph.units[v.last].height
                if v.rows[-1] != h:
                    out.append(
                        Problem(
                            f"volumes.{i}.rows",
                            v.rows,
                            f"must end at the height {h} of unit {v.last} ({graph.units[v.last].name})",
                        )
                    )
                expect = v.last + 1
            if expect != graph.num_units and len(out) == n_before:
                out.append(
                    Problem(
                        "volumes",
                        len(self.volumes),
                        f"cover units 0..{expect - 1}, the model has 0..{graph.num_units - 1}",
                    )
                )
        if self.tiles is not None:
            _, h, w = graph.input_shape
            grid = np.zeros((h, w), dtype=np.int32)
            for i, t in enumerate(self.tiles):
                if t.rows[1] > h or t.cols[1] > w:
                    out.append(Problem(f"tiles.{i}", [list(t.rows), list(t.cols)], f"outside the {h}x{w} image"))
                    continue
                grid[t.rows[0] : t.rows[1], t.cols[0] : t.cols[1]] += 1
            if not (grid == 1).all() and not any(p.field.startswith("tiles.") for p in out):
                bad = "overlap" if (grid > 1).any() else "gap"
                r, c = np.argwhere(grid != 1)[0]
                out.append(Problem("tiles", f"pixel ({r}, {c})", f"tiles must cover the image exactly once ({bad})"))
        for i, s in enumerate(self.stages or []):
            if not s.first <= s.last < graph.num_units:
                out.append(
                    Problem(f"stages.{i}", [s.first, s.last], f"units must satisfy first <= last < {graph.num_units}")
                )
        return out

    def check(self, graph: ModelGraph) -> None:
        """Raise :class:`PlanError` on the first problem."""
        probs = self.problems(graph)
        if probs:
            raise PlanError(str(probs[0]))

    # -- files --------------------------------------------------------------------------------
    def evolve(self, **update: Any) -> Plan:
        """A copy with ``update`` applied and validated again (``model_copy`` would skip the
        checks, so a copy could contradict its kind)."""
        return type(self).model_validate({**self.model_dump(), **update})

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        return atomic_write(path, self._relative_profiles(path.parent).model_dump_json(indent=1, exclude_none=True))

    def _relative_profiles(self, folder: Path) -> Plan:
        """This plan with each brought profile named by its path relative to ``folder`` (where
        the plan is written), when this process read it: a plan and its profiles move together."""
        devices = []
        for d in self.devices:
            path = known_profile(d.profile_sha256)
            rel = os.path.relpath(path, folder.resolve()) if path is not None else d.board
            devices.append(d.model_copy(update={"board": rel}) if rel != d.board else d)
        return self if devices == self.devices else self.model_copy(update={"devices": devices})

    @classmethod
    def parse(cls, data: Any, where: str = "plan") -> Plan:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise PlanError(f"{where}: {_first_error(exc)}") from None


@dataclass(frozen=True)
class Problem:
    field: str
    value: Any
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} (got {self.value!r})"


def load_plan(path: str | Path) -> Plan:
    """Read and structurally validate a plan file; every failure is one :class:`PlanError` line."""
    plan = Plan.parse(read_json(path, "plan", PlanError), where=f"plan {path}")
    folder = Path(path).resolve().parent
    for d in plan.devices:  # a brought profile missing or changed fails here; found, it is known by hash
        if d.board.endswith(".json"):
            d.device(folder)
    return plan
