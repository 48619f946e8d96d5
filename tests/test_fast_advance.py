"""The table/batch-last/sparse ``Simulator.advance`` (issue 18.4, 21.4) equals the old maths bit for bit.

``reference_advance`` is a frozen copy of the step as it was; every comparison asks for equality
to the last bit (``np.array_equal``), on random plans with empty parts, both media, time-varying
networks, up to 64 devices (where transfers are priced sparsely) and the per-unit compute
fallback of volumes too tall to tabulate.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitgym.costmodels.errors import PlanError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.volumes import volume_simulator, volume_tables
from splitgym.costmodels.volumes.transfer_arrival import SPARSE_MIN_N, dense_arrival, pairs_by_part, sparse_arrival
from splitgym.costmodels.volumes.volume_simulator import Simulator

from .reference_advance import reference_advance, reference_finish, reference_score
from .test_single_plan import headless_graph, make_sim, random_partition

_SIMS: dict[tuple, Simulator] = {}


def sim_for(graph: ModelGraph, n: int, medium: str, traced: bool) -> Simulator:
    """One simulator per configuration for the whole module (building one is the slow part)."""
    key = (graph.name, n, medium, traced)
    if key not in _SIMS:
        _SIMS[key] = make_sim(graph, n, seed=n, traced=traced, medium=medium)
        _SIMS[key].fast = False
    return _SIMS[key]


def batch_cuts(rng: np.random.Generator, graph: ModelGraph, partition, n: int, batch: int) -> np.ndarray:
    """(batch, V, n+1) sorted cuts; a third of the instances lump rows on few devices (empty parts)."""
    vols = []
    for _, last in partition:
        h = int(graph.units[last].height)
        x = np.sort(rng.integers(0, h + 1, size=(batch, n - 1)), axis=1)
        lump = rng.random(batch) < 1 / 3
        x[lump] = np.sort(rng.choice([0, h // 2, h], size=(int(lump.sum()), n - 1)), axis=1)
        vols.append(np.concatenate([np.zeros((batch, 1), np.int64), x, np.full((batch, 1), h)], axis=1))
    return np.stack(vols, axis=1)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal values and equal signs (``array_equal`` alone takes -0.0 for +0.0)."""
    return np.array_equal(a, b) and np.array_equal(np.signbit(a), np.signbit(b))


def assert_step_equal(sim: Simulator, first: int, last: int, cuts, T_prev, prev) -> np.ndarray:
    """Every field of the new step equals the reference's; returns T."""
    st_new = sim.advance(first, last, cuts, T_prev, prev)
    T, compute, nbytes, secs, lo, hi, ranges = reference_advance(sim, first, last, cuts, T_prev, prev)
    assert same_bits(st_new.T, T)
    assert same_bits(st_new.compute, compute)
    assert np.array_equal(st_new.in_lo, lo) and np.array_equal(st_new.in_hi, hi)
    assert np.array_equal(st_new.recv_bytes, nbytes) and np.array_equal(st_new.recv_seconds, secs)
    assert all(np.array_equal(a, b) for pa, pb in zip(st_new.ranges, ranges) for a, b in zip(pa, pb))
    detailed = sim.advance(first, last, cuts, T_prev, prev, detail=True)  # arrivals from the pairs
    assert same_bits(detailed.T, T) and np.array_equal(detailed.recv_seconds, secs)
    return T


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    n=st.sampled_from([1, 2, 3, 4, 8, 16, 24]),
    medium=st.sampled_from(["switched", "shared"]),
    traced=st.booleans(),
    at=st.floats(0, 500),
)
def test_every_field_equals_the_reference(
    vgg16: ModelGraph, seed: int, n: int, medium: str, traced: bool, at: float
) -> None:
    rng = np.random.default_rng(seed)
    graph = vgg16 if seed % 3 else headless_graph()
    sim = sim_for(graph, n, medium, traced)
    sim.set_time(at)
    partition = random_partition(rng, graph.num_units)
    cuts = batch_cuts(rng, graph, partition, n, int(rng.integers(1, 40)))
    T = np.zeros((cuts.shape[0], n))
    prev = None
    for v, (f, l) in enumerate(partition):
        T = assert_step_equal(sim, f, l, cuts[:, v], T, prev)
        prev = cuts[:, v]
    assert same_bits(sim.score(partition, cuts), reference_score(sim, partition, cuts))


@pytest.mark.parametrize("n", [8, 16, 64])
@pytest.mark.parametrize("sparse_from", [1, SPARSE_MIN_N])
def test_sparse_transfers_equal_the_dense_matrix(vgg16: ModelGraph, n: int, sparse_from: int) -> None:
    """Transfers priced sparsely (forced from 1 device on, and by default from SPARSE_MIN_N): the
    latencies equal the dense maths'."""
    rng = np.random.default_rng(n)
    sim = sim_for(vgg16, n, "switched", traced=False)
    sim.sparse_min_n = sparse_from
    try:
        for partition in ([(0, 3), (4, 9), (10, 12)], [(0, 0), (1, 1), (2, 6), (7, 12)]):
            cuts = batch_cuts(rng, vgg16, partition, n, 64)
            assert same_bits(sim.score(partition, cuts), reference_score(sim, partition, cuts))
    finally:
        sim.sparse_min_n = SPARSE_MIN_N


@pytest.mark.parametrize("n", [16, 64])
def test_sparse_arrival_equals_dense_arrival(n: int) -> None:
    """The two transfer pricers on the same random step: the same arrivals, bit for bit."""
    rng = np.random.default_rng(n)
    B, H = 50, 30
    prev = np.sort(rng.integers(0, H + 1, (B, n + 1)), axis=1)
    prev[:, 0], prev[:, -1] = 0, H
    lo = np.sort(rng.integers(0, H, (B, n)), axis=1)
    hi = np.minimum(lo + rng.integers(0, 6, (B, n)), H)
    lo[hi <= lo] = hi[hi <= lo] = 0  # empty parts need nothing
    ready, rate, rb = rng.uniform(0, 1, (B, n)), rng.uniform(5, 500, (n, n)) * 1e6, 1234.5
    pairs = pairs_by_part(n, n, own_free=True)
    rates = np.repeat(rate[pairs][:, None], B, axis=1)
    pf = prev.T.astype(float)
    dense = dense_arrival(
        lo.T.astype(float), hi.T.astype(float), pf[:-1], pf[1:], ready.T, pairs, rb * 8.0, rates, 2e-3
    )
    sparse = sparse_arrival(lo, hi, prev, ready, rb, rate.ravel(), 2e-3)
    assert np.array_equal(sparse, dense.T)
    assert (sparse > 0).sum() > 0 and (sparse == 0).sum() > 0  # both kinds of part occur


def test_unsorted_previous_cuts_take_the_dense_path(vgg16: ModelGraph) -> None:
    """Sparse pricing needs sorted cuts; unsorted ones (empty parts by the old rule) stay dense and equal."""
    n = SPARSE_MIN_N
    sim = sim_for(vgg16, n, "switched", traced=False)
    rng = np.random.default_rng(1)
    prev = batch_cuts(rng, vgg16, [(0, 4)], n, 20)[:, 0]
    prev[:, 1:-1] = rng.integers(0, int(vgg16.units[4].height) + 1, (20, n - 1))  # not sorted
    cuts = batch_cuts(rng, vgg16, [(5, 9)], n, 20)[:, 0]
    T = rng.uniform(0, 1e-2, (20, n))
    assert_step_equal(sim, 5, 9, cuts, T, prev)


def test_tall_volumes_sum_compute_per_unit(vgg16: ModelGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the compute table (over MAX_TABLE entries) the step sums per unit; still equal."""
    monkeypatch.setattr(volume_tables, "MAX_TABLE", 0)
    sim = make_sim(vgg16, 4, seed=3)
    sim.fast = False
    rng = np.random.default_rng(3)
    partition = [(0, 5), (6, 12)]
    cuts = batch_cuts(rng, vgg16, partition, 4, 30)
    for _ in range(2):  # the first score has no tables yet, the second builds them
        assert same_bits(sim.score(partition, cuts), reference_score(sim, partition, cuts))
    assert len(sim._tables) == 2 and all(t.compute is None for t in sim._tables.values())


def test_tables_are_built_on_a_volumes_second_step_and_bounded(
    vgg16: ModelGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-off score pays no table; the second step of a volume builds it; at most MAX_TABLES kept,
    the oldest built dropped first; every step equal to the reference either way."""
    monkeypatch.setattr(volume_simulator, "MAX_TABLES", 2)
    sim = make_sim(vgg16, 3, seed=5)
    sim.fast = False
    rng = np.random.default_rng(5)
    partitions = [[(0, 3), (4, 12)], [(0, 3), (4, 12)], [(0, 1), (2, 12)], [(0, 1), (2, 12)]]
    built = []
    for partition in partitions:
        cuts = batch_cuts(rng, vgg16, partition, 3, 20)
        assert same_bits(sim.score(partition, cuts), reference_score(sim, partition, cuts))
        built.append(sorted(sim._tables))
    assert built == [[], [(0, 3), (4, 12)], [(0, 3), (4, 12)], [(0, 1), (2, 12)]]


def test_a_cut_outside_the_volume_is_refused(vgg16: ModelGraph) -> None:
    sim = sim_for(vgg16, 4, "switched", traced=False)
    h = int(vgg16.units[3].height)
    bad = np.array([[0, 5, 10, h + 1, h]])
    with pytest.raises(PlanError, match=rf"cuts: volume 0\.\.3 takes cut points in 0\.\.{h}, got 0\.\.{h + 1}"):
        sim.advance(0, 3, bad, np.zeros((1, 4)), None)


@pytest.mark.parametrize("n", [1, 3, 8, 24])
@pytest.mark.parametrize("head_device", [None, 0])
def test_the_head_gather_equals_the_reference(vgg16: ModelGraph, n: int, head_device: int | None) -> None:
    """The batch-last finish: every field equal, ties of the largest part to the first device."""
    sim = sim_for(vgg16, n, "switched", traced=True)
    sim.set_time(123.0)
    rng = np.random.default_rng(n)
    cuts = batch_cuts(rng, vgg16, [(0, 17)], n, 60)[:, 0]
    cuts[:5, 1:-1] = np.linspace(0, cuts[0, -1], n + 1).astype(int)[1:-1]  # near-equal parts: ties
    T = rng.uniform(0, 1e-2, (60, n))
    end, info = sim.finish(cuts, T.T.copy().T if n > 1 else T, head_device)
    want, want_info = reference_finish(sim, cuts, T, head_device)
    assert same_bits(end, want)
    assert all(np.array_equal(info[k], want_info[k]) for k in want_info)
