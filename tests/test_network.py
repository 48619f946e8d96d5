"""Links, bandwidth traces and the device groups / networks of DistrEdge Tables I-III."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from torch import nn

from splitgym.costmodels.cluster import REQUESTER, Cluster, list_conf, load_conf
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.network import (
    BandwidthTrace,
    Link,
    Network,
    link_seconds,
    transfer_seconds,
)
from splitgym.costmodels.nodes.node_cluster import NodeCluster, make_node
from splitgym.costmodels.stages.queue_sim import QueueSim, QueueSystem
from splitgym.costmodels.tiles.tile_cost import TileCostModel

from .helpers import synthetic_profile


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg, f"not one line: {msg!r}"
    return msg


# -- transfer_seconds and Link ---------------------------------------------------------------------
def test_zero_bytes_cost_nothing() -> None:
    assert float(transfer_seconds(0, 100.0, latency_s=0.01, overhead_s=0.02)) == 0.0
    assert Link(50.0, 0.003, 0.004).seconds(0) == 0.0


def test_transfer_time_formula() -> None:
    # 1 MB at 80 Mbps is 0.1 s, plus 5 ms latency and 2 ms overhead
    assert float(transfer_seconds(1e6, 80.0, 0.005, 0.002)) == pytest.approx(0.107, rel=1e-12)
    assert Link(80.0, 0.005, 0.002).seconds(1e6) == pytest.approx(0.107, rel=1e-12)
    # a single byte still pays the fixed costs
    assert float(transfer_seconds(1, 8.0, 0.005, 0.002)) == pytest.approx(0.007 + 1e-6, rel=1e-12)
    assert Link(8.0).seconds(1) == pytest.approx(1e-6, rel=1e-12)


def test_transfer_seconds_is_vectorised() -> None:
    nbytes = np.array([[0, 1000, 2000], [500, 0, 125]])
    mbps = np.array([8.0, 16.0, 1.0])  # broadcast over columns
    got = transfer_seconds(nbytes, mbps, 0.001, 0.0)
    want = np.where(nbytes > 0, 0.001 + nbytes * 8 / (mbps * 1e6), 0.0)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[0, 0] == 0.0 and got[1, 1] == 0.0
    assert got[0, 1] == pytest.approx(0.001 + 1000 * 8 / 16e6)


@pytest.mark.parametrize("bw", [0.0, -1.0, float("nan")])
def test_link_needs_positive_bandwidth(bw: float) -> None:
    with pytest.raises(ConfigError) as info:
        Link(bw)
    assert "bandwidth_mbps" in _one_line(info)


@pytest.mark.parametrize("latency, overhead", [(-0.001, 0.0), (0.0, -1.0)])
def test_link_needs_non_negative_latency_and_overhead(latency: float, overhead: float) -> None:
    with pytest.raises(ConfigError) as info:
        Link(10.0, latency, overhead)
    assert "latency" in _one_line(info)


# -- Network -----------------------------------------------------------------------------------------
def test_link_runs_at_the_smaller_cap() -> None:
    net = Network({"a": 50.0, "b": 300.0, "c": 100.0, REQUESTER: 200.0}, latency_s=0.001, overhead_s=0.002)
    assert net.link("a", "b").bandwidth_mbps == 50.0
    assert net.link("b", "a").bandwidth_mbps == 50.0
    assert net.link("b", "c").bandwidth_mbps == 100.0
    assert net.link(REQUESTER, "b").bandwidth_mbps == 200.0
    link = net.link("c", REQUESTER)
    assert (link.bandwidth_mbps, link.latency_s, link.overhead_s) == (100.0, 0.001, 0.002)


def test_matrix_is_pairwise_min_with_infinite_diagonal() -> None:
    net = Network({"a": 50.0, "b": 300.0, "c": 100.0})
    m = net.matrix(["a", "b", "c"])
    assert m.shape == (3, 3)
    assert np.isinf(np.diag(m)).all()
    assert m[0, 1] == m[1, 0] == 50.0
    assert m[1, 2] == m[2, 1] == 100.0
    assert m[0, 2] == 50.0
    np.testing.assert_array_equal(m, m.T)


def test_network_rejects_bad_caps_and_unknown_devices() -> None:
    with pytest.raises(ConfigError) as info:
        Network({"a": 10.0, "b": 0.0})
    msg = _one_line(info)
    assert "'b'" in msg or " b " in msg
    net = Network({"a": 10.0})
    with pytest.raises(ConfigError) as info:
        net.link("a", "zz")
    assert "'zz'" in _one_line(info)


def test_traces_override_caps_over_time() -> None:
    trace = BandwidthTrace((0.0, 10.0), (20.0, 400.0))
    net = Network({"a": 100.0, "b": 300.0}, traces={"a": trace})
    assert net.cap("a", 5.0) == 20.0
    assert net.cap("a", 15.0) == 400.0
    assert net.cap("b", 15.0) == 300.0
    assert net.link("a", "b", 5.0).bandwidth_mbps == 20.0
    assert net.link("a", "b", 15.0).bandwidth_mbps == 300.0
    assert net.matrix(["a", "b"], 15.0)[0, 1] == 300.0


# -- BandwidthTrace ----------------------------------------------------------------------------------
def test_trace_is_piecewise_constant() -> None:
    tr = BandwidthTrace((0.0, 10.0, 20.0), (100.0, 50.0, 200.0), loop=False)
    assert [tr.at(t) for t in (0.0, 9.999, 10.0, 19.5, 20.0)] == [100.0, 100.0, 50.0, 50.0, 200.0]
    assert tr.at(1e6) == 200.0  # no loop: the last value holds


def test_trace_loops_with_its_period() -> None:
    tr = BandwidthTrace((0.0, 10.0, 20.0), (100.0, 50.0, 200.0))
    assert tr.period == 30.0
    for t in (0.0, 4.0, 12.0, 25.0):
        assert tr.at(t + 30.0) == tr.at(t)
        assert tr.at(t + 300.0) == tr.at(t)
    assert tr.at(31.0) == 100.0
    assert tr.at(42.0) == 50.0


@pytest.mark.parametrize(
    "times, mbps",
    [((), ()), ((0.0, 1.0), (5.0,)), ((0.0,), (0.0,)), ((1.0, 2.0), (5.0, 5.0)), ((0.0, 2.0, 1.0), (5.0, 5.0, 5.0))],
)
def test_trace_validation(times: tuple[float, ...], mbps: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError) as info:
        BandwidthTrace(times, mbps)
    assert _one_line(info).startswith("trace")


def test_trace_from_csv(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_text("time_s,mbps,other\n0,120,1\n5,60.5,2\n10,240,3\n")
    tr = BandwidthTrace.from_csv(path)
    assert tr.times == (0.0, 5.0, 10.0)
    assert tr.mbps == (120.0, 60.5, 240.0)
    assert tr.at(7.0) == 60.5
    assert tr.period == 15.0
    assert BandwidthTrace.from_csv(path, column="other").mbps == (1.0, 2.0, 3.0)


def test_trace_from_missing_csv(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        BandwidthTrace.from_csv(tmp_path / "none.csv")
    msg = _one_line(info)
    assert "no such file" in msg and "none.csv" in msg


def test_trace_from_csv_without_the_column(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_text("time_s,bandwidth\n0,120\n5,60\n")
    with pytest.raises(ConfigError) as info:
        BandwidthTrace.from_csv(path)
    msg = _one_line(info)
    assert "mbps" in msg and "trace.csv" in msg


def test_trace_from_csv_with_a_non_number(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_text("time_s,mbps\n0,120\n5,fast\n")
    with pytest.raises(ConfigError) as info:
        BandwidthTrace.from_csv(path)
    assert "fast" in _one_line(info)


def test_trace_from_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        BandwidthTrace.from_csv(tmp_path)


def test_synthetic_trace_is_reproducible_and_bounded() -> None:
    a = BandwidthTrace.synthetic(7, duration_s=600.0, step_s=10.0, low=20.0, high=300.0)
    b = BandwidthTrace.synthetic(7, duration_s=600.0, step_s=10.0, low=20.0, high=300.0)
    c = BandwidthTrace.synthetic(8, duration_s=600.0, step_s=10.0, low=20.0, high=300.0)
    assert a == b
    assert a.mbps != c.mbps
    assert len(a.times) == 60
    assert a.times[:3] == (0.0, 10.0, 20.0)
    assert a.period == 600.0
    for tr in (a, c):
        assert all(20.0 <= v <= 300.0 for v in tr.mbps)
    assert len(set(a.mbps)) > 10  # it varies


def test_synthetic_trace_respects_narrow_bounds() -> None:
    tr = BandwidthTrace.synthetic(3, duration_s=3600.0, step_s=60.0, low=80.0, high=90.0)
    assert len(tr.mbps) == 60
    assert min(tr.mbps) >= 80.0 and max(tr.mbps) <= 90.0


# -- Cluster.from_config: DistrEdge Tables I-III ----------------------------------------------------
CYCLE = ["pi3", "nano", "tx2", "xavier"]
TABLE_I = {
    "DA": ["tx2", "tx2", "nano", "nano"],
    "DB": ["xavier", "xavier", "nano", "nano"],
    "DC": ["xavier", "tx2", "nano", "pi3"],
}
TABLE_II = {"NA": [50, 50, 200, 200], "NB": [100, 100, 200, 200], "NC": [200, 200, 300, 300], "ND": [50, 100, 200, 300]}
TABLE_III = {
    "LA": (["nano"] * 4, [300, 200, 100, 50]),
    "LB": (CYCLE, [300, 200, 100, 50]),
    "LC": (CYCLE, [200, 200, 200, 200]),
    "LD": (CYCLE, [50, 100, 200, 300]),
}

CASES: list[tuple[str, str | float, list[str], list[float], float]] = []
for _g, _boards in TABLE_I.items():
    for _bw in (50.0, 300.0):
        CASES.append((_g, _bw, _boards, [_bw] * 4, _bw))
for _g in ("all-nano", "all-xavier"):
    for _n, _caps in TABLE_II.items():
        CASES.append((_g, _n, [_g.removeprefix("all-")] * 4, [float(c) for c in _caps], 300.0))
for _g, (_boards, _caps) in TABLE_III.items():
    CASES.append((_g, _g, _boards * 4, [float(c) for c in _caps] * 4, 300.0))
for _k in (2, 3, 4, 5):  # MS-MDI's testbeds: k TX2s on one access point
    CASES.append((f"tx2x{_k}", 100.0, ["tx2"] * _k, [100.0] * _k, 100.0))
for _g in ("hidp-5", "hidp-dynamic"):  # HiDP's boards (HI Table II) at 80 Mbps
    CASES.append((_g, "hidp80", ["orin-nx", "tx2", "nano", "pi5", "pi4"], [80.0] * 5, 80.0))
CASES.append(("hidp-2", "hidp80", ["pi5", "pi4"], [80.0] * 2, 80.0))  # run for real: test_hidp_distributed.py


@pytest.mark.parametrize("group, network, boards, caps, requester", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_distredge_groups(
    group: str, network: str | float, boards: list[str], caps: list[float], requester: float
) -> None:
    cluster = Cluster.from_config(group, network)
    assert cluster.name == group
    assert cluster.size == len(boards)
    assert [d.board for d in cluster.devices] == boards
    assert [cluster.network.cap(n) for n in cluster.names] == caps
    assert cluster.network.cap(REQUESTER) == requester
    assert len(set(cluster.names)) == cluster.size
    assert cluster.requester == REQUESTER


def test_every_device_group_file_is_covered() -> None:
    tested = {c[0] for c in CASES}
    assert set(list_conf("devices")) == tested | {
        "local4",
        "pi3b-1",
        "pi3b-4",
        "nptp3",
        "nptp6",
        "file",
    }  # pi3b-*: test_hyps.py; nptp3: test_tiles.py; nptp6: test_nptp_v1.py; file: test_profile_store.py
    assert {"NA", "NB", "NC", "ND", "LA", "LB", "LC", "LD", "bw50", "bw300"} <= set(list_conf("network"))


def test_local4_with_a_uniform_network_file() -> None:
    cluster = Cluster.from_config("local4", "bw200")
    assert cluster.size == 4
    assert {d.board for d in cluster.devices} == {"local-cpu"}
    assert [cluster.network.cap(n) for n in cluster.names + [REQUESTER]] == [200.0] * 5


def test_lb_names_in_the_group_file_match_the_paper() -> None:
    # LB: {(300, Pi3), (200, Nano), (100, TX2), (50, Xavier)} x 4 (DE L317)
    cluster = Cluster.from_config("LB", "LB")
    pairs = {(cluster.network.cap(d.name), d.board) for d in cluster.devices}
    assert pairs == {(300.0, "pi3"), (200.0, "nano"), (100.0, "tx2"), (50.0, "xavier")}
    assert cluster.index("xavier-3-3") == 15


def test_network_from_a_mapping_with_latency_and_overhead() -> None:
    cluster = Cluster.from_config(
        {"name": "pair", "devices": [{"name": "a", "board": "nano"}, {"name": "b", "board": "tx2"}]},
        {"per_device_mbps": [10, 20], "latency_ms": 4, "overhead_ms": 1},
    )
    assert cluster.name == "pair"
    assert cluster.network.latency_s == pytest.approx(0.004)
    assert cluster.network.overhead_s == pytest.approx(0.001)
    assert cluster.network.cap(REQUESTER) == 20.0  # no requester_mbps: the largest device cap


def test_network_with_a_csv_trace(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("time_s,mbps\n0,10\n60,90\n")
    cluster = Cluster.from_config("DB", {"bandwidth_mbps": 300, "trace": {"csv": str(path), "devices": ["nano-0"]}})
    assert cluster.network.cap("nano-0", 70.0) == 90.0
    assert cluster.network.cap("nano-0", 10.0) == 10.0
    assert cluster.network.cap("nano-1", 10.0) == 300.0


def test_network_with_a_synthetic_trace_on_every_device() -> None:
    cluster = Cluster.from_config("DA", {"bandwidth_mbps": 300, "trace": {"seed": 5, "step_s": 30}})
    expected = BandwidthTrace.synthetic(5, 3600.0, 30.0)
    for name in cluster.names:
        assert cluster.network.traces[name] == expected
    assert cluster.network.cap("tx2-0", 95.0) == expected.at(95.0)


@pytest.mark.parametrize(
    "devices, network, needle",
    [
        ("DZ", 300.0, "'DZ'"),
        ("DB", "NQ", "'NQ'"),
        ("DB", "LA", "16 values for 4 devices"),
        ("LA", "NA", "4 values for 16 devices"),
        ("DB", {"name": "empty"}, "empty"),
        ({"devices": [{"name": "a"}]}, 100.0, "board"),
        ({"devices": [{"name": "a", "board": "nano"}, {"name": "a", "board": "tx2"}]}, 100.0, "['a']"),
        ({"devices": [{"name": "requester", "board": "nano"}]}, 100.0, "requester"),
        ({"devices": []}, 100.0, "at least 1"),
        ("DB", 0.0, "Mbps > 0, got 0.0"),
    ],
)
def test_config_errors_are_one_line(devices: object, network: object, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        Cluster.from_config(devices, network)  # type: ignore[arg-type]
    msg = _one_line(info)
    assert needle in msg


def test_unknown_group_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        load_conf("devices", "nope")
    msg = _one_line(info)
    assert msg.startswith("devices:") and "'nope'" in msg and "DB" in msg and "LD" in msg


def test_config_by_yaml_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\ndevices:\n  - {name: x0, board: xavier}\n  - {name: p0, board: pi3}\n")
    net = tmp_path / "net.yaml"
    net.write_text("per_device_mbps: [300, 50]\nrequester_mbps: 100\n")
    cluster = Cluster.from_config(str(path), str(net))
    assert cluster.names == ["x0", "p0"]
    assert [cluster.network.cap(n) for n in ("x0", "p0", REQUESTER)] == [300.0, 50.0, 100.0]
    with pytest.raises(ConfigError) as info:
        Cluster.from_config(str(tmp_path / "missing.yaml"), 10.0)
    assert "missing.yaml" in _one_line(info)


# -- one link-time formula for every plan kind ----------------------------------------------------
LINK_CASES = [
    (0.0, 100.0, 0.01, 0.02),
    (1.0, 8.0, 0.005, 0.002),
    (1e6, 80.0, 0.005, 0.0),
    (3.7e5, 54.5, 0.0, 0.0),
    (2e7, 1000.0, 0.002, 0.001),
]


@pytest.mark.parametrize("nbytes,mbps,latency,overhead", LINK_CASES)
def test_link_seconds_is_transfer_seconds_of_one_message(
    nbytes: float, mbps: float, latency: float, overhead: float
) -> None:
    want = float(transfer_seconds(nbytes, mbps, latency, overhead))
    assert link_seconds(nbytes, mbps, latency, overhead) == want
    assert Link(mbps, latency, overhead).seconds(nbytes) == want


@pytest.mark.parametrize("nbytes,mbps,latency,overhead", LINK_CASES)
def test_every_kind_prices_a_link_with_transfer_seconds(
    nbytes: float, mbps: float, latency: float, overhead: float
) -> None:
    """Tiles (NPTP), stages (MS-MDI's queueing simulator) and nodes (HiDP, no overhead) all give
    network.transfer_seconds at the slower end's rate."""
    fast = mbps * 3
    want = float(transfer_seconds(nbytes, mbps, latency, overhead))
    g = ModelGraph.from_module(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1)), (1, 6, 6), name="one")
    cluster = Cluster.from_config(
        {"name": "t2", "devices": [{"name": "a", "board": "local-cpu"}, {"name": "b", "board": "local-cpu"}]},
        {"name": "n", "per_device_mbps": [fast, mbps], "latency_ms": latency * 1e3, "overhead_ms": overhead * 1e3},
    )
    tiles = TileCostModel(g, cluster, profiles={"local-cpu": synthetic_profile(g, 1e-3)})
    assert tiles.seconds(0, 1, nbytes) == want

    net = Network({"w0": fast, "w1": mbps}, latency, overhead)
    system = QueueSystem(
        ["w0", "w1"],
        np.full((2, 1), 0.1),
        np.zeros(2),
        np.full(2, 1e5),
        np.ones(1),
        net,
        [0],
        [1.0],
        [1],
        contention="none",
    )
    assert QueueSim(system).xfer(0, 1, nbytes, 0.0) == want

    nodes = NodeCluster("n2", [make_node("a", "nano", fast), make_node("b", "tx2", mbps)], "a", latency)
    assert nodes.transfer_seconds(0, 1, nbytes) == float(transfer_seconds(nbytes, mbps, latency, 0.0))
    assert nodes.transfer_seconds(1, 1, nbytes) == 0.0
