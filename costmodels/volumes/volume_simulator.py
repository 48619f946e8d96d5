"""Simulator: Plan + ModelGraph + cost model -> latency breakdown, vectorised over split decisions.

The timing model (DistrEdge Section III-IV; the choices it leaves open, PAPERS-AUDIT B.1 items
8-11, are fixed here):

* **Start (T_0).** The requester holds the image at t = 0 and sends each device the input rows
  its part of the first volume needs (T_0 = 0 on every device; the input transfer is charged).
* **Between volumes.** Device k starts volume l when it has finished its own part of volume l-1
  (T_{l-1}^k) *and* every slice it needs from other devices has arrived: it waits for the latest
  sender (max over senders of T_{l-1}^m + transfer). Data a device already holds moves for free.
  Sends overlap with compute and each other (DistrEdge's send/receive threads, DE L252; no
  contention). On a ``shared`` medium (:mod:`network`) the transfers into one volume, and those
  of the head's gather, go one at a time, first ready first served; a transfer's seconds are then
  from its sender's readiness to its arrival (waiting included). A device with an empty part
  keeps T_l^k = T_{l-1}^k.
* **Compute.** A part costs, per unit of the volume, the device's profiled latency for the output
  rows that unit must produce, halo included (the row maths says how many).
* **Head.** The fully connected head runs on the device with the largest share of the last volume
  (DE L252; ties to the first device) or the plan's ``head_device``; it gathers every other part's
  rows, runs, and returns the result to the requester. Without a head, every device returns its
  rows to the requester.
* **Throughput.** The next image is sent only after the previous result returns (DE L252), so
  IPS = 1 / end-to-end latency.
* **Memory.** Peak per device = parameters of every unit it runs a non-empty part of (+ the head's)
  + the largest input+output activation of those parts (fp32).

:meth:`Simulator.score` evaluates a batch of split decisions (B x volumes x N+1 cuts) at once in
numpy: LC-PSS, AOFL and the exact search go through :meth:`Simulator.advance`. A step looks a
part's compute and input rows up by its two cuts (:mod:`volume_tables`), prices transfers with the
batch as the last, contiguous axis (:mod:`transfer_arrival`; from ``sparse_min_n`` devices on only
the pairs that overlap) and computes the per-pair detail a breakdown reads only when it is read;
the results equal the per-unit, dense maths it replaced to the last bit (tests/test_fast_advance.py). One decision on at
most :data:`~splitgym.costmodels.volumes.single_plan.FAST_MAX_N` devices (``score`` of one plan,
``simulate``, the env's step) takes the plain-Python path of
:mod:`~splitgym.costmodels.volumes.single_plan` instead, ~4x faster and equal to the batched
path's results; ``Simulator(..., fast=False)`` (or ``sim.fast = False``) forces the batched path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import PlanError
from splitgym.costmodels.graph import DTYPE_BYTES, ModelGraph
from splitgym.costmodels.network import fifo_finish, transfer_seconds
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile, profile_for
from splitgym.costmodels.traffic import SplitMaths
from splitgym.costmodels.volumes.head_gather import gather_at_head
from splitgym.costmodels.volumes.single_plan import FAST_MAX_N, SinglePlan, StepDetail
from splitgym.costmodels.volumes.transfer_arrival import SPARSE_MIN_N, dense_arrival, pairs_by_part, sparse_arrival
from splitgym.costmodels.volumes.volume_tables import VolumeTables, check_cuts, direct_lookup

__all__ = ["Simulator", "Breakdown", "VolumeStep", "MAX_TABLES"]

#: the most volumes whose lookup tables a simulator keeps (the oldest built goes first)
MAX_TABLES = 64


class VolumeStep:
    """One volume advanced for a batch: what :meth:`Simulator.advance` returns.

    ``T`` and ``compute`` are computed by the step; the input rows, the per-pair transfers and the
    per-unit ranges, which only a breakdown reads, are computed on first access (the transfers by
    the dense per-pair maths), so a training step or a batch score does not pay for them. They
    read the arrays given to :meth:`Simulator.advance`: read them before changing those in place.
    """

    def __init__(
        self,
        sim: Simulator,
        first: int,
        last: int,
        cuts: np.ndarray,
        T_prev: np.ndarray,
        prev_cuts: np.ndarray | None,
        compute: np.ndarray,
        rows_in: tuple[np.ndarray, np.ndarray] | tuple[VolumeTables, np.ndarray],
    ) -> None:
        self.T: np.ndarray = T_prev  # (B, N) accumulated latency of each device after this volume (set by advance)
        self.compute = compute  # (B, N) seconds of compute of each device's part
        self._args = (sim, first, last, cuts, T_prev, prev_cuts)
        # the input rows (B, N) lo and hi, or the tables and (N, B) index to look them up in
        self._rows_in = rows_in
        self._transfers: tuple[np.ndarray, np.ndarray] | None = None
        self._ranges: list[tuple[np.ndarray, np.ndarray]] | None = None

    @property
    def in_lo(self) -> np.ndarray:
        """(B, N) first input row each part needs."""
        return self._input()[0]

    @property
    def in_hi(self) -> np.ndarray:
        """(B, N) end of the input rows each part needs."""
        return self._input()[1]

    @property
    def recv_bytes(self) -> np.ndarray:
        """(B, N, M) bytes each device gets from each source."""
        return self._dense()[0]

    @property
    def recv_seconds(self) -> np.ndarray:
        """(B, N, M) seconds of each of those transfers (0 where none)."""
        return self._dense()[1]

    @property
    def ranges(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Last unit's output .. volume input: (B, N) lo and hi each."""
        if self._ranges is None:
            sim, first, last, cuts = self._args[:4]
            self._ranges = sim.split.ranges(first, last, cuts)
        return self._ranges

    def _input(self) -> tuple[np.ndarray, np.ndarray]:
        first, second = self._rows_in
        if isinstance(first, VolumeTables):
            idx = second.T
            self._rows_in = first.in_lo.take(idx), first.in_hi.take(idx)
        return self._rows_in  # type: ignore[return-value]

    def _dense(self) -> tuple[np.ndarray, np.ndarray]:
        if self._transfers is None:
            sim, first, _, _, T_prev, prev_cuts = self._args
            self._transfers = sim._dense_transfers(first, self.in_lo, self.in_hi, T_prev, prev_cuts)
        return self._transfers


@dataclass
class Breakdown:
    """Where the time of one plan goes (what ``splitgym simulate`` prints)."""

    devices: list[str]
    volumes: list[tuple[int, int]]
    compute: np.ndarray  # (V, N)
    T: np.ndarray  # (V, N)
    transfers: list[dict[str, Any]]
    head_device: str | None
    head_start: float
    head_seconds: float
    result_seconds: float
    latency: float
    peak_memory: np.ndarray  # (N,) bytes
    halo_rows: np.ndarray  # (V,) rows computed more than once, summed over units

    @property
    def ips(self) -> float:
        return 1.0 / self.latency

    def per_device(self) -> list[dict[str, float]]:
        out = []
        for k, name in enumerate(self.devices):
            recv = sum(t["seconds"] for t in self.transfers if t["dst"] == name)
            sent = sum(t["bytes"] for t in self.transfers if t["src"] == name)
            out.append(
                {
                    "device": name,
                    "compute_s": float(
                        self.compute[:, k].sum() + (self.head_seconds if name == self.head_device else 0.0)
                    ),
                    "recv_s": float(recv),
                    "sent_bytes": float(sent),
                    "finish_s": float(self.T[-1, k]),
                    "peak_memory_mb": float(self.peak_memory[k] / 2**20),
                }
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_s": self.latency,
            "ips": self.ips,
            "devices": self.devices,
            "volumes": [list(v) for v in self.volumes],
            "accumulated_s": self.T.tolist(),
            "compute_s": self.compute.tolist(),
            "halo_rows": self.halo_rows.tolist(),
            "transfers": self.transfers,
            "head": {
                "device": self.head_device,
                "start_s": self.head_start,
                "compute_s": self.head_seconds,
                "result_s": self.result_seconds,
            },
            "per_device": self.per_device(),
        }


class Simulator:
    """Precomputed tables for one (model, cluster): score plans and batches of split decisions.

    Args:
        profiles: per board name, a :class:`DeviceProfile` for ``graph``; missing boards are
            measured (local-cpu) or derived (see :func:`profiles.profile_for`).
        at: time (s) at which a time-varying network is sampled.
        fast: score one decision with the plain-Python path when N <= ``FAST_MAX_N`` (False: always
            the batched numpy path; the results are equal either way).
    """

    def __init__(
        self,
        graph: ModelGraph,
        cluster: Cluster,
        profiles: dict[str, DeviceProfile] | None = None,
        at: float = 0.0,
        fast: bool = True,
    ) -> None:
        self.fast = fast
        self.graph = graph
        self.cluster = cluster
        cache = dict(profiles or {})
        self.profiles = [profile_for(d.spec, graph, cache) for d in cluster.devices]
        self.N = cluster.size
        self.lat = np.stack([p.table(graph) for p in self.profiles])  # (N, U, Hmax+1)
        self.head_lat = np.array([p.head_seconds for p in self.profiles])
        self.split = SplitMaths(graph)
        self.maps = self.split.maps
        self.heights = self.split.heights
        self.row_bytes = self.split.row_bytes
        self.input_row_bytes = self.split.input_row_bytes
        self.result_bytes = float(graph.head.out_bytes if graph.head else 0)
        self.unit_param_bytes = np.array([u.params for u in graph.units], dtype=float) * DTYPE_BYTES
        self._dev = np.arange(self.N)
        self._single: SinglePlan | None = None
        self._tables: dict[tuple[int, int], VolumeTables] = {}
        self._seen: set[tuple[int, int]] = set()
        #: from this many devices on, transfers between volumes are priced sparsely (switched medium)
        self.sparse_min_n = SPARSE_MIN_N
        self._links_of: np.ndarray | None = None
        self._links_cache: dict[str, Any] = {}
        self.set_time(at)

    @property
    def single(self) -> SinglePlan | None:
        """The plain-Python path for one decision, or None where the batched path is used
        (``fast`` off, or more than ``FAST_MAX_N`` devices). Built on first use."""
        if not self.fast or self.N > FAST_MAX_N:
            return None
        if self._single is None:
            self._single = SinglePlan(self)
        return self._single

    def set_time(self, at: float) -> None:
        """Sample the (possibly time-varying) network at time ``at``."""
        names = self.cluster.names + [self.cluster.requester]
        self.at = at
        self.bw = self.cluster.network.matrix(names, at)  # (N+1, N+1), requester last
        self.latency_s = self.cluster.network.latency_s
        self.overhead_s = self.cluster.network.message_s
        self.shared = self.cluster.network.shared

    # -- the vectorised core ------------------------------------------------------------------
    def advance(
        self,
        first: int,
        last: int,
        cuts: np.ndarray,
        T_prev: np.ndarray,
        prev_cuts: np.ndarray | None,
        *,
        detail: bool = False,
    ) -> VolumeStep:
        """Advance a batch by one volume (units ``first..last``).

        Args:
            cuts: (B, N+1) cut points on the last unit's output rows.
            T_prev: (B, N) accumulated latency before this volume.
            prev_cuts: (B, N+1) cuts of the previous volume, or None when the requester holds the
                input (the first volume).
            detail: price every (part, source) pair now and take the arrivals from them (what a
                breakdown reads anyway) instead of the batch-last pricing; the same results.
        """
        cuts_t = np.ascontiguousarray(cuts.T)  # (N+1, B): the batch last, see transfer_arrival
        tables = self._volume_tables(first, last)
        if tables is None:  # the volume's first step: no table yet
            check_cuts(cuts_t, first, last, int(self.heights[last]) + 1)
            compute, lo, hi, rows_in = direct_lookup(self, first, last, cuts)
            step = VolumeStep(self, first, last, cuts, T_prev, prev_cuts, compute.T, rows_in)
        else:
            idx = tables.index(cuts_t)
            compute, lo, hi = tables.lookup(self, cuts, idx)
            step = VolumeStep(self, first, last, cuts, T_prev, prev_cuts, compute.T, (tables, idx))
        T_prev_t = np.ascontiguousarray(T_prev.T)
        if self.shared or detail:
            nbytes, secs = step._dense()
            ready = np.zeros((cuts.shape[0], 1)) if prev_cuts is None else T_prev
            arrival = np.where(nbytes > 0, ready[:, None, :] + secs, 0.0).max(axis=2).T
        else:
            arrival = self._arrival(first, step, lo, hi, T_prev_t, prev_cuts)
        T = np.maximum(T_prev_t, arrival)
        T += compute
        step.T = np.where(cuts_t[1:] > cuts_t[:-1], T, T_prev_t).T
        return step

    def _volume_tables(self, first: int, last: int) -> VolumeTables | None:
        """The volume's lookup tables: None on its first step, built on its second (kept for the
        last :data:`MAX_TABLES` volumes built)."""
        key = (first, last)
        tables = self._tables.get(key)
        if tables is None and key in self._seen:
            if len(self._tables) >= MAX_TABLES:
                del self._tables[next(iter(self._tables))]
            tables = self._tables[key] = VolumeTables(self, first, last)
        self._seen.add(key)
        return tables

    def _arrival(
        self,
        first: int,
        step: VolumeStep,
        lo: np.ndarray,
        hi: np.ndarray,
        T_prev_t: np.ndarray,
        prev_cuts: np.ndarray | None,
    ) -> np.ndarray:
        """(N, B) arrival of each part's last input slice on a switched medium (0: none needed);
        ``lo``, ``hi`` (N, B) the input rows of the parts, ``T_prev_t`` (N, B) the previous finish."""
        base = self.latency_s + self.overhead_s
        B = lo.shape[1]
        if prev_cuts is None:
            zero, full = np.zeros((1, B)), np.full((1, B), float(self.split.input_height))
            pairs, rate = self._pair_rates("requester", B)
            return dense_arrival(lo, hi, zero, full, zero, pairs, self.input_row_bytes * 8.0, rate, base)
        rb = self.row_bytes[first - 1]
        if self.N >= self.sparse_min_n and self._sparse_ok(prev_cuts):
            got = sparse_arrival(step.in_lo, step.in_hi, prev_cuts, T_prev_t.T, rb, self._links()["flat"], base)
            return got.T
        prev_t = prev_cuts.T.astype(float)
        pairs, rate = self._pair_rates("devices", B)
        return dense_arrival(lo, hi, prev_t[:-1], prev_t[1:], T_prev_t, pairs, rb * 8.0, rate, base)

    def _pair_rates(self, sources: str, B: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        """The (source, part) pairs of :func:`dense_arrival` from the requester or between devices,
        and their rates ``mbps * 1e6`` repeated over a batch of B (kept for the last B asked)."""
        links = self._links()
        key = f"{sources}-{B}"
        if key not in links:
            N = self.N
            if sources == "requester":
                pairs = pairs_by_part(1, N, own_free=False)
                per_pair = links["rate"][N, :N][pairs[1]]
            else:
                pairs = pairs_by_part(N, N, own_free=True)
                per_pair = links["rate"][pairs[0], pairs[1]]
            for old in [k for k in links if k.startswith(f"{sources}-")]:
                del links[old]
            links[key] = (pairs, np.ascontiguousarray(np.repeat(per_pair[:, None], B, axis=1)))  # type: ignore[assignment]
        return links[key]  # type: ignore[return-value]

    @staticmethod
    def _sparse_ok(prev_cuts: np.ndarray) -> bool:
        """Whether :func:`sparse_arrival` applies: every row of cuts sorted, from 0 to one height
        (a volume's cuts as the envs and planners make them; others take the dense path)."""
        ends = prev_cuts[:, -1]
        return bool(
            (prev_cuts[:, 0] == 0).all() and (ends == ends[0]).all() and (prev_cuts[:, 1:] >= prev_cuts[:, :-1]).all()
        )

    def _links(self) -> dict[str, Any]:
        """The link rates ``mbps * 1e6`` in the layouts of :mod:`transfer_arrival`, rebuilt when
        :meth:`set_time` samples a new bandwidth matrix."""
        if self._links_of is not self.bw:
            rate = self.bw * 1e6
            self._links_cache = {"rate": rate, "flat": np.ascontiguousarray(rate[: self.N, : self.N]).ravel()}
            self._links_of = self.bw
        return self._links_cache

    def _dense_transfers(
        self, first: int, in_lo: np.ndarray, in_hi: np.ndarray, T_prev: np.ndarray, prev_cuts: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(B, N, M) bytes and seconds of every (part, source) pair (on a shared medium, queued):
        the breakdown's detail, and the shared medium's step."""
        nbytes = self.split.received_bytes(first, in_lo, in_hi, prev_cuts)
        if prev_cuts is None:
            src_dev, ready = np.array([self.N]), np.zeros((in_lo.shape[0], 1))
        else:
            src_dev, ready = self._dev, T_prev
        bw = self.bw[src_dev][:, : self.N].T  # (N, M): source m -> device k
        secs = transfer_seconds(nbytes, bw[None], self.latency_s, self.overhead_s)
        if self.shared:
            secs = self._queued(np.broadcast_to(ready[:, None, :], nbytes.shape), secs, nbytes)
        return nbytes, secs

    def finish(
        self, last_cuts: np.ndarray, T: np.ndarray, head_device: int | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """End-to-end latency after the last volume: gather at the head, run it, return."""
        if self.graph.head is not None and not self.shared:
            return gather_at_head(self, last_cuts, T, head_device)  # the same maths, batch-last
        B = T.shape[0]
        nbytes = self.split.gather_bytes(last_cuts)
        req = self.N
        if self.graph.head is None:
            secs = transfer_seconds(nbytes, self.bw[: self.N, req][None], self.latency_s, self.overhead_s)
            if self.shared:
                secs = self._queued(T, secs, nbytes)
            end = np.where(nbytes > 0, T + secs, 0.0).max(axis=1)
            return end, {"head": np.full(B, -1), "head_start": end, "result": np.zeros(B)}
        h = np.argmax(nbytes, axis=1) if head_device is None else np.full(B, head_device)
        nbytes[np.arange(B), h] = 0.0
        secs = transfer_seconds(nbytes, self.bw[: self.N][:, h].T, self.latency_s, self.overhead_s)
        if self.shared:
            secs = self._queued(T, secs, nbytes)
        arrive = np.where(nbytes > 0, T + secs, 0.0).max(axis=1)
        start = np.maximum(T[np.arange(B), h], arrive)
        result = transfer_seconds(np.full(B, self.result_bytes), self.bw[h, req], self.latency_s, self.overhead_s)
        end = start + self.head_lat[h] + result
        return end, {"head": h, "head_start": start, "result": result, "gather_bytes": nbytes, "gather_s": secs}

    @staticmethod
    def _queued(ready: np.ndarray, secs: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
        """Seconds from readiness to arrival of one step's transfers on the shared medium
        (:func:`network.fifo_finish` over everything after the batch axis); 0 where no bytes."""
        B = ready.shape[0]
        r = ready.reshape(B, -1)
        done = fifo_finish(r, np.where(nbytes > 0, secs, 0.0).reshape(B, -1))
        return np.where(nbytes > 0, (done - r).reshape(nbytes.shape), 0.0)

    def score(self, partition: list[tuple[int, int]], cuts: np.ndarray, head_device: int | None = None) -> np.ndarray:
        """End-to-end latency (s) of a batch of split decisions for one partition.

        ``cuts`` is (B, V, N+1) (or (V, N+1) for one plan); returns (B,) (or a scalar).
        """
        cuts = np.asarray(cuts, dtype=np.int64)
        single = cuts.ndim == 2
        fast = self.single if single or cuts.shape[0] == 1 else None
        if fast is not None:
            end = fast.score(partition, (cuts if single else cuts[0]).tolist(), head_device)
            return np.float64(end) if single else np.array([end])
        if single:
            cuts = cuts[None]
        B = cuts.shape[0]
        T = np.zeros((B, self.N))
        prev = None
        for v, (f, l) in enumerate(partition):
            T = self.advance(f, l, cuts[:, v], T, prev).T
            prev = cuts[:, v]
        end, _ = self.finish(prev, T, head_device)  # type: ignore[arg-type]
        return end[0] if single else end

    # -- one decision ---------------------------------------------------------------------------
    def _step_detail(
        self, first: int, last: int, cuts: list[int], T_prev: list[float], prev_cuts: list[int] | None
    ) -> StepDetail:
        """One volume of one decision in full (the breakdown's source), by either path."""
        fast = self.single
        if fast is not None:
            return fast.advance(first, last, cuts, T_prev, prev_cuts, detail=True)
        prev = None if prev_cuts is None else np.array([prev_cuts], dtype=np.int64)
        cuts_a, T_a = np.array([cuts], dtype=np.int64), np.array([T_prev], dtype=float)
        st = self.advance(first, last, cuts_a, T_a, prev, detail=True)
        return StepDetail(
            st.T[0].tolist(),
            st.compute[0].tolist(),
            st.recv_bytes[0].tolist(),
            st.recv_seconds[0].tolist(),
            [(lo[0].tolist(), hi[0].tolist()) for lo, hi in st.ranges],
        )

    def _finish_detail(self, last_cuts: list[int], T: list[float], head_device: int | None) -> tuple[float, dict]:
        """:meth:`finish` of one decision with plain values in its info, by either path."""
        fast = self.single
        if fast is not None:
            return fast.finish(last_cuts, T, head_device)
        end, info = self.finish(np.array([last_cuts], dtype=np.int64), np.array([T], dtype=float), head_device)
        return float(end[0]), {k: v[0].tolist() for k, v in info.items()}

    # -- one plan, in detail ------------------------------------------------------------------
    def simulate(self, plan: Plan) -> Breakdown:
        """The full latency breakdown of a volume plan (checked against the model first)."""
        names = self._check_volume_plan(plan)
        head = names.index(plan.head_device) if plan.head_device else None
        cuts = plan.cuts.tolist()
        T = [0.0] * self.N
        prev = None
        Ts, comps, transfers, halo = [], [], [], []
        peak_act = [0.0] * self.N
        params = [0.0] * self.N
        for v, (f, l) in enumerate(plan.partition):
            st = self._step_detail(f, l, cuts[v], T, prev)
            transfers += self._volume_transfers(v, st, from_requester=prev is None)
            halo.append(self._halo_rows(f, l, st))
            self._charge_memory(f, l, st, params, peak_act)
            T = st.T
            Ts.append(T)
            comps.append(st.compute)
            prev = cuts[v]
        end, info = self._finish_detail(prev, T, head)  # type: ignore[arg-type]
        h = int(info["head"])
        head_name = names[h] if h >= 0 else None
        if h >= 0:
            transfers += self._head_transfers(len(plan.volumes), info, params)
        return Breakdown(
            devices=names,
            volumes=plan.partition,
            compute=np.array(comps),
            T=np.array(Ts),
            transfers=transfers,
            head_device=head_name,
            head_start=float(info["head_start"]),
            head_seconds=float(self.head_lat[h]) if h >= 0 else 0.0,
            result_seconds=float(info["result"]),
            latency=float(end),
            peak_memory=np.array(params) + np.array(peak_act),
            halo_rows=np.array(halo),
        )

    def _check_volume_plan(self, plan: Plan) -> list[str]:
        """Check ``plan`` against the model and the cluster; the cluster's device names."""
        plan.check(self.graph)
        if not plan.volumes:
            raise PlanError("volumes: this plan has no volumes; the simulator scores volume plans")
        names = self.cluster.names
        if [d.name for d in plan.devices] != names:
            raise PlanError(f"devices: plan devices {[d.name for d in plan.devices]} differ from the cluster's {names}")
        return names

    def _volume_transfers(self, v: int, st: StepDetail, from_requester: bool) -> list[dict[str, Any]]:
        """The non-empty transfers into volume ``v`` (of one decision), receiver by receiver."""
        names = self.cluster.names
        all_names = names + [self.cluster.requester]
        srcs = [self.N] if from_requester else list(range(self.N))
        transfers = []
        for k in range(self.N):
            for j, m in enumerate(srcs):
                nb = float(st.recv_bytes[k][j])
                if nb > 0:
                    transfers.append(
                        {
                            "volume": v,
                            "src": all_names[m],
                            "dst": names[k],
                            "bytes": nb,
                            "seconds": float(st.recv_seconds[k][j]),
                        }
                    )
        return transfers

    @staticmethod
    def _rows(st: StepDetail) -> list[list[int]]:
        """Rows each device computes per unit output (last unit first), then the volume input."""
        return [[b - a for a, b in zip(lo, hi)] for lo, hi in st.ranges]

    def _halo_rows(self, first: int, last: int, st: StepDetail) -> int:
        """Rows computed beyond each unit's height, summed over the volume's units."""
        units = range(last, first - 1, -1)
        return sum(sum(r) - int(self.heights[u]) for r, u in zip(self._rows(st), units))

    def _charge_memory(self, first: int, last: int, st: StepDetail, params: list[float], peak_act: list[float]) -> None:
        """Add, in place, the parameters of every unit a device runs rows of to ``params`` and raise
        ``peak_act`` to each unit's input+output activation bytes."""
        rows = self._rows(st)
        for i, u in enumerate(range(last, first - 1, -1)):
            pb = float(self.unit_param_bytes[u])
            out_rb = float(self.row_bytes[u])
            in_rb = float(self.input_row_bytes if u == 0 else self.row_bytes[u - 1])
            for k in range(self.N):
                if rows[i][k] > 0:
                    params[k] += pb
                act = rows[i][k] * out_rb + rows[i + 1][k] * in_rb
                if act > peak_act[k]:
                    peak_act[k] = act

    def _head_transfers(self, volume: int, info: dict[str, Any], params: list[float]) -> list[dict[str, Any]]:
        """The head's gather (every other device's rows to the head) and its result to the
        requester, as transfers of step ``volume``; adds the head's parameters to ``params``."""
        names = self.cluster.names
        h = int(info["head"])
        head_name = names[h]
        params[h] += (self.graph.head.params if self.graph.head else 0) * DTYPE_BYTES
        transfers = []
        for m in range(self.N):
            nb = float(info["gather_bytes"][m])
            if nb > 0:
                transfers.append(
                    {
                        "volume": volume,
                        "src": names[m],
                        "dst": head_name,
                        "bytes": nb,
                        "seconds": float(info["gather_s"][m]),
                    }
                )
        transfers.append(
            {
                "volume": volume,
                "src": head_name,
                "dst": self.cluster.requester,
                "bytes": self.result_bytes,
                "seconds": float(info["result"]),
            }
        )
        return transfers
