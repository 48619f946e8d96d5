"""The pilot's pricing shortcuts (per-volume cuts, the anchor's states reused and its volumes
replayed) change no number: every partition's best sampled latency and the search's choice equal
what a pass of the simulator from the start over the whole partition gives."""

from __future__ import annotations

import numpy as np
import pytest

from splitgym.agents.planners.volumes.exact_bnb import bound_holds
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.volumes import partition_pilot
from splitgym.costmodels.volumes.clock_bound import rows_covered
from splitgym.costmodels.volumes.partition_pilot import SEARCH, _Pricer, pilot_partition
from splitgym.costmodels.volumes.partitions import from_starts
from splitgym.costmodels.volumes.share_actions import share_cuts
from splitgym.costmodels.volumes.volume_simulator import Simulator

from .test_exact_bnb import setup


def _plain(price: _Pricer, starts: tuple[int, ...]) -> tuple[float, str, np.ndarray]:
    """The pricing before the shortcuts: one ``Simulator.score`` over the whole partition with
    ``share_cuts`` of every volume at once."""
    part = from_starts(list(starts), price.graph.num_units)
    heights = [price.graph.units[last].height for _, last in part]
    best = None
    for kind in price.priors:
        prior = np.stack([price.volume_cuts(kind, f, last)[0] for f, last in part])
        lat = price.sim.score(part, share_cuts(price.actions, prior, heights))
        k = int(lat.argmin())
        if best is None or lat[k] < best[0]:
            best = (float(lat[k]), kind, prior * np.exp(4.0 * np.clip(price.actions[k], -1, 1))[None, :])
    return best


def _network(medium: str) -> dict:
    return {"bandwidth_mbps": 300, "latency_ms": 0.0, "overhead_ms": 0.0, "medium": medium}


@pytest.mark.parametrize(("medium", "samples"), [("switched", 32), ("shared", 32), ("switched", 1)])
def test_priced_partitions_equal_a_plain_pass(medium: str, samples: int):
    graph = ModelGraph.from_torchvision("vgg16")
    price = _Pricer(graph, Cluster.from_config("DB", _network(medium)), ("whole", "volume"), samples, 0.5, 3)
    rng = np.random.default_rng(0)
    U = graph.num_units
    anchor = (0, 4, 9, 13)
    price.anchor(anchor)
    # the anchor's neighbours (what the search prices), then unrelated partitions
    cands = [tuple(sorted(set(anchor) ^ {i})) for i in (1, 4, 6, 9, 13, 16, U - 1)]  # merges and splits
    cands += [tuple([0] + sorted(rng.choice(np.arange(1, U), size=k, replace=False).tolist())) for k in (1, 6)]
    for starts in cands:
        got, want = price(starts), _plain(price, starts)
        assert got[0] == want[0] and got[1] == want[1], starts  # the same floats, not close ones
        np.testing.assert_array_equal(got[2], want[2])


def test_volume_cuts_are_the_joint_cuts_of_each_volume():
    graph = ModelGraph.from_torchvision("resnet50")
    price = _Pricer(graph, Cluster.from_config("LB", 300.0), ("whole", "volume"), 64, 0.5, 0)
    part = from_starts([0, 2, 5, 9, 14], graph.num_units)
    heights = [graph.units[last].height for _, last in part]
    for kind in ("whole", "volume"):
        prior = np.stack([price.volume_cuts(kind, f, last)[0] for f, last in part])
        joint = share_cuts(price.actions, prior, heights)
        for v, (f, last) in enumerate(part):
            np.testing.assert_array_equal(price.volume_cuts(kind, f, last)[1], joint[:, v])


def _plain_search(monkeypatch: pytest.MonkeyPatch, graph: ModelGraph, cluster: Cluster):
    monkeypatch.setattr(partition_pilot._Pricer, "__call__", _cached_plain)
    try:
        return pilot_partition(graph, cluster, **SEARCH)
    finally:
        monkeypatch.undo()


def _cached_plain(self: _Pricer, starts: tuple[int, ...], below: float = np.inf) -> tuple[float, str, np.ndarray]:
    """Every partition priced in full, whatever ``below`` says (no clock bound)."""
    if starts not in self.cache:
        self.cache[starts] = _plain(self, starts)
    return self.cache[starts]


def _same_choice(graph: ModelGraph, cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = pilot_partition(graph, cluster, **SEARCH)
    plain = _plain_search(monkeypatch, graph, cluster)
    assert fast.partition == plain.partition and fast.latency == plain.latency
    assert (fast.prior, fast.source, fast.alpha, fast.moves, fast.priced) == (
        plain.prior,
        plain.source,
        plain.alpha,
        plain.moves,
        plain.priced,
    )
    np.testing.assert_array_equal(fast.centre, plain.centre)
    assert fast.candidates == plain.candidates


def test_pilot_search_chooses_as_the_plain_pricing_on_vgg16(monkeypatch: pytest.MonkeyPatch):
    _same_choice(ModelGraph.from_torchvision("vgg16"), Cluster.from_config("DB", 300.0), monkeypatch)


@pytest.mark.slow  # the plain pricing of ResNet-152 takes ~5-20 s per cluster (and its profile, once)
@pytest.mark.parametrize("model", ["vgg16", "resnet50", "resnet152"])
@pytest.mark.parametrize("devices", ["DB", "LB"])
def test_pilot_search_chooses_as_the_plain_pricing_at_224(model: str, devices: str, monkeypatch: pytest.MonkeyPatch):
    _same_choice(ModelGraph.from_torchvision(model), Cluster.from_config(devices, 300.0), monkeypatch)


def test_rows_covered_is_the_exact_searchs_condition_per_boundary():
    for stride1x1 in (False, True):
        g, cluster, profiles = setup(3, stride1x1=stride1x1)
        sim = Simulator(g, cluster, profiles=profiles)
        for cut in range(1, g.num_units):
            part = [(0, cut - 1), (cut, g.num_units - 1)]
            assert rows_covered(sim, cut, g.num_units - 1) == bound_holds(sim, part), (stride1x1, cut)
    g, cluster, profiles = setup(3, stride1x1=True)
    sim = Simulator(g, cluster, profiles=profiles)
    assert not all(rows_covered(sim, cut, g.num_units - 1) for cut in range(1, g.num_units))  # some skip rows


def test_the_clock_bound_gives_up_only_partitions_that_cannot_win(monkeypatch: pytest.MonkeyPatch):
    graph = ModelGraph.from_torchvision("vgg16")
    cluster = Cluster.from_config("DB", 300.0)
    advances = []
    real = Simulator.advance
    monkeypatch.setattr(Simulator, "advance", lambda self, *a, **k: advances.append(a[0]) or real(self, *a, **k))
    starts = (0, 4, 9, 13)
    exact = _Pricer(graph, cluster, ("whole", "volume"), 32, 0.5, 3)(starts)
    n_full = len(advances)
    assert n_full == 2 * 4  # two priors, four volumes, nothing to reuse
    tie = _Pricer(graph, cluster, ("whole", "volume"), 32, 0.5, 3)
    assert tie(starts, below=exact[0])[0] == np.inf and starts in tie.ruled_out  # a tie cannot win
    advances.clear()
    low = _Pricer(graph, cluster, ("whole", "volume"), 32, 0.5, 3)
    assert low(starts, below=exact[0] / 2)[0] == np.inf
    assert 0 < len(advances) < n_full  # given up before its last volumes were advanced
    above = _Pricer(graph, cluster, ("whole", "volume"), 32, 0.5, 3)(starts, below=np.nextafter(exact[0], 1.0))
    assert above[:2] == exact[:2]  # just above the best: priced, the same float
    np.testing.assert_array_equal(above[2], exact[2])
