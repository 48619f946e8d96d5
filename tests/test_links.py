"""Links as measured: the link-table fit, networks naming a table, the shared medium in every
kind's cost model, and one-line errors for bad link settings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from splitgym.costmodels.cluster import Cluster, Device, conf_dir, load_conf
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.link_table import LINKS_FORMAT, LOCAL_LINKS, fit_links, load_link_table
from splitgym.costmodels.network import MediumClock, Network, fifo_finish, fifo_finish_list
from splitgym.costmodels.plan import Plan, load_plan
from splitgym.costmodels.slicing import Region
from splitgym.costmodels.stages.queue_sim import QueueSim, QueueSystem
from splitgym.costmodels.tiles.tile_cost import TileCostModel, exchanges
from splitgym.costmodels.volumes.volume_simulator import Simulator

from .helpers import synthetic_profile

OVERHEAD_S = 1.5e-3
EFF = {50.0: 47.5, 300.0: 271.0, None: 9000.0}  # cap -> effective Mbps of the synthetic transport


def synthetic_rows(noise: float = 0.0, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for cap, eff in EFF.items():
        for nbytes in (4, 4096, 65536, 262144, 1048576):
            s = OVERHEAD_S + nbytes * 8 / (eff * 1e6)
            rows.append({"bytes": nbytes, "mbps": cap, "seconds": s * (1 + noise * rng.standard_normal())})
    return rows


def write_table(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": LINKS_FORMAT, "version": 1, "rows": rows}))
    return path


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg, f"not one line: {msg!r}"
    return msg


# -- the fit ----------------------------------------------------------------------------------------
def test_fit_recovers_a_known_overhead_and_rates() -> None:
    fit = fit_links(synthetic_rows())
    assert fit.overhead_s == pytest.approx(OVERHEAD_S, rel=1e-9)
    for cap, eff in EFF.items():
        assert fit.effective_mbps[cap] == pytest.approx(eff, rel=1e-9)
    assert fit.mape_pct < 1e-6


def test_fit_tolerates_noise() -> None:
    fit = fit_links(synthetic_rows(noise=0.02, seed=3))
    assert fit.overhead_s == pytest.approx(OVERHEAD_S, rel=0.1)
    assert fit.effective_mbps[50.0] == pytest.approx(47.5, rel=0.1)


def test_a_rate_lost_in_noise_is_infinite_and_the_overhead_stays_positive() -> None:
    """Loopback: a 64 KB message timed faster than a 4 B one gives no per-byte time to fit."""
    rows = [{"bytes": 4, "mbps": None, "seconds": 3e-4}, {"bytes": 65536, "mbps": None, "seconds": 2e-4}]
    fit = fit_links(rows)
    assert fit.effective_mbps[None] == float("inf")
    inv = np.array([1 / 3e-4, 1 / 2e-4])
    assert fit.overhead_s == pytest.approx(inv.sum() / (inv**2).sum(), rel=1e-9)  # relative-error fit of a constant
    assert fit.to_json()["effective_mbps"] == [{"cap_mbps": None, "effective_mbps": None}]


def test_the_shipped_table_loads_and_fits() -> None:
    doc = json.loads(LOCAL_LINKS.read_text())
    fit = load_link_table(LOCAL_LINKS)
    assert doc["format"] == LINKS_FORMAT and doc["rows"]
    assert fit.overhead_s == pytest.approx(doc["fit"]["overhead_ms"] / 1e3, rel=1e-9)
    assert 0 < fit.overhead_s < 0.05  # a per-message cost, not a transfer


# -- a network naming a table -------------------------------------------------------------------------
def test_a_network_yaml_naming_a_table_uses_it(tmp_path: Path) -> None:
    write_table(tmp_path / "tables" / "mine.json", synthetic_rows())
    yaml = tmp_path / "net.yaml"
    yaml.write_text("name: mine\nbandwidth_mbps: 100\nlatency_ms: 0.5\noverhead_ms: 2\nlinks: tables/mine.json\n")
    cl = Cluster.from_config({"devices": [{"name": "a", "board": "local-cpu"}]}, str(yaml))
    net = cl.network
    assert net.transport_s == pytest.approx(OVERHEAD_S, rel=1e-9)
    assert net.overhead_s == pytest.approx(2e-3)  # the plan's own I/O overhead is kept beside it
    link = net.link("a", "requester")
    assert link.seconds(1e6) == pytest.approx(0.5e-3 + 2e-3 + OVERHEAD_S + 8e6 / 100e6, rel=1e-12)


def test_local_network_names_the_shipped_table() -> None:
    cfg = load_conf("network", "local")
    assert Path(cfg["links"]) == LOCAL_LINKS.resolve()
    cl = Cluster.from_config("local4", "local")
    assert cl.network.transport_s == load_link_table(LOCAL_LINKS).overhead_s > 0


def test_a_hydra_composed_network_finds_its_table_beside_the_yaml() -> None:
    """Hydra hands the network group over as a mapping, its ``links`` path still relative to the
    YAML: it is found under ``conf/network`` from any working folder."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(conf_dir()), version_base=None):
        cfg = compose(config_name="train", overrides=["devices=local4", "network=local"])
    assert not Path(cfg.network.links).is_absolute()
    cl = Cluster.from_config(cfg.devices, cfg.network)
    assert cl.network.transport_s == load_link_table(LOCAL_LINKS).overhead_s


def test_the_cli_plans_local_devices_on_the_measured_links(tmp_path: Path) -> None:
    from splitgym.experiments.cli import main

    for extra, transport in (([], load_link_table(LOCAL_LINKS).overhead_s * 1e3), (["--bandwidth", "300"], 0.0)):
        out = tmp_path / "plan.json"
        args = ["plan", "equal", "--model", "vgg11", "--input", "32", "--devices", "local4", "-o", str(out)]
        assert main(args + extra) == 0
        assert load_plan(out).network.transport_ms == pytest.approx(transport)


@pytest.fixture(scope="module")
def tiny() -> ModelGraph:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
    return ModelGraph.from_module(m, (3, 32, 32), name="tiny")


def cluster(n: int, mbps: float = 100.0, **net: object) -> Cluster:
    names = [f"d{k}" for k in range(n)]
    caps = {d: mbps for d in names} | {"requester": mbps}
    return Cluster("t", [Device(d, "local-cpu") for d in names], Network(caps, **net))  # type: ignore[arg-type]


def test_the_simulator_charges_the_measured_transport_and_plans_record_it(tiny: ModelGraph) -> None:
    prof = {"local-cpu": synthetic_profile(tiny, 1e-4)}
    base, measured = cluster(2, overhead_s=1e-3), cluster(2, overhead_s=1e-3, transport_s=OVERHEAD_S)
    plan = Plan.from_volumes("p", tiny, measured, [(0, 1)], [[0, 16, 32]])
    assert plan.network.transport_ms == pytest.approx(OVERHEAD_S * 1e3)
    again = Plan.model_validate_json(plan.model_dump_json())
    assert again.cluster().network.transport_s == pytest.approx(OVERHEAD_S)
    a = Simulator(tiny, base, prof).simulate(Plan.from_volumes("p", tiny, base, [(0, 1)], [[0, 16, 32]]))
    b = Simulator(tiny, measured, prof).simulate(plan)
    assert len(a.transfers) == len(b.transfers) > 0
    for x, y in zip(a.transfers, b.transfers):
        assert y["seconds"] - x["seconds"] == pytest.approx(OVERHEAD_S, rel=1e-9)


# -- the shared medium ----------------------------------------------------------------------------------
def test_fifo_rule_batched_and_plain_agree() -> None:
    ready = np.array([[0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 1.0, 10.0]])
    secs = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 0.5, 1.0]])
    got = fifo_finish(ready, secs)
    np.testing.assert_array_equal(got[0], [1.0, 2.0, 3.0, 4.0])  # four at once: 1, 2, 3, 4 transfer times
    np.testing.assert_array_equal(got[1], [4.0, 2.0, 2.5, 11.0])  # served by readiness, idle gaps kept
    for r, s, g in zip(ready, secs, got):
        assert fifo_finish_list(r.tolist(), s.tolist()) == g.tolist()
    clock = MediumClock()
    assert [clock.book(-1, 0.0, 1.0) for _ in range(4)] == [1.0, 2.0, 3.0, 4.0]


def test_shared_medium_scatter_takes_four_link_times_in_the_volume_simulator(tiny: ModelGraph) -> None:
    """The requester sends each of 4 devices its input rows at once: switched, each arrives after
    its own link time; shared, one after another, the last after the sum of all four."""
    prof = {"local-cpu": synthetic_profile(tiny, 1e-5)}
    plans = {}
    for medium in ("switched", "shared"):
        cl = cluster(4, 50.0, latency_s=1e-3, overhead_s=0.5e-3, medium=medium)
        sim = Simulator(tiny, cl, prof)
        plans[medium] = sim.simulate(Plan.from_volumes("p", tiny, cl, [(0, 1)], [[0, 8, 16, 24, 32]]))
    sw, sh = plans["switched"], plans["shared"]
    scatter = [t for t in sw.transfers if t["src"] == "requester"]
    assert len(scatter) == 4
    alone = [1.5e-3 + t["bytes"] * 8 / 50e6 for t in scatter]  # latency + overhead + wire, by hand
    arrive = np.cumsum(alone)  # shared: device k's rows arrive after devices 0..k's
    for k in range(4):
        assert sw.T[0, k] == pytest.approx(alone[k] + sw.compute[0, k], rel=1e-12)
        assert sh.T[0, k] == pytest.approx(arrive[k] + sh.compute[0, k], rel=1e-12)
    assert arrive[-1] / max(alone) == pytest.approx(4.0, rel=0.15)
    assert sh.latency > sw.latency


def tile_model(graph: ModelGraph, medium: str) -> TileCostModel:
    cl = cluster(4, 50.0, latency_s=1e-3, overhead_s=0.5e-3, medium=medium)
    return TileCostModel(graph, cl, profiles={"local-cpu": synthetic_profile(graph, 1e-5)})


def test_shared_medium_in_the_tile_cost_model(tiny: ModelGraph) -> None:
    """Four horizontal strips exchange halos per layer: shared, a layer's messages go one at a
    time (receiver then sender order), so each device waits for those queued before its own."""
    rects = [Region(8 * k, 8 * k + 8, 0, 32) for k in range(4)]
    sw, sh = tile_model(tiny, "switched").score(rects), tile_model(tiny, "shared").score(rects)
    want_sw, want_sh = np.zeros(4), np.zeros(4)
    for ex in exchanges(tiny, rects):
        c_in = tiny.units[ex.unit].in_shape[0]
        msgs = sorted((dst, src, (r.r1 - r.r0) * (r.c1 - r.c0) * c_in * 4) for src, dst, r in ex.recv)
        for dst, _, nb in msgs:
            want_sw[dst] += 1.5e-3 + nb * 8 / 50e6
        per_dst: dict[int, float] = {}
        clock = 0.0
        for dst, _, nb in msgs:
            clock += 1.5e-3 + nb * 8 / 50e6
            per_dst[dst] = clock
        for dst, t in per_dst.items():
            want_sh[dst] += t
    np.testing.assert_allclose(sw.comm_seconds, want_sw, rtol=1e-12)
    np.testing.assert_allclose(sh.comm_seconds, want_sh, rtol=1e-12)
    assert sh.comm_seconds.max() > sw.comm_seconds.max()  # middle strips wait for the others' halos


def _queue(net: Network, contention: str = "none") -> QueueSystem:
    return QueueSystem(
        ["w0", "w1", "w2"], np.full((3, 1), 0.1), np.zeros(3), np.full(3, 1e5), np.ones(1), net, [0], [1.0], [1],
        contention=contention,  # type: ignore[arg-type]
    )  # fmt: skip


def test_the_queue_simulator_takes_the_shared_medium_from_the_network() -> None:
    """Two sends at once from different workers: on their own links both take one link time; on a
    shared network the second waits for the first (MS-MDI's "shared" contention, one rule)."""
    caps = {"w0": 80.0, "w1": 80.0, "w2": 80.0}
    one = 0.5e-3 + 1e5 * 8 / 80e6
    free, shared = (
        QueueSim(_queue(Network(caps, overhead_s=0.5e-3))),
        QueueSim(_queue(Network(caps, overhead_s=0.5e-3, medium="shared"))),
    )
    assert shared.sys.contention == "shared"
    assert [free.xfer(0, 1, 1e5, 0.0), free.xfer(2, 1, 1e5, 0.0)] == pytest.approx([one, one], rel=1e-12)
    assert [shared.xfer(0, 1, 1e5, 0.0), shared.xfer(2, 1, 1e5, 0.0)] == pytest.approx([one, 2 * one], rel=1e-12)
    with pytest.raises(ConfigError) as exc:
        _queue(Network(caps, medium="shared"), contention="sender")
    assert "contention" in one_line(exc)


# -- one-line errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra,needle",
    [
        ({"medium": "foo"}, "medium"),
        ({"overhead_ms": -1.0}, "overhead_ms"),
        ({"latency_ms": "fast"}, "latency_ms"),
        ({"links": 3}, "links"),
        ({"links": "/nonexistent/table.json"}, "links: no such file"),
    ],
)
def test_bad_link_settings_are_one_line(extra: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        Cluster.from_config({"devices": [{"name": "a", "board": "x"}]}, {"bandwidth_mbps": 10, **extra})
    assert needle in one_line(exc)


@pytest.mark.parametrize(
    "content,needle",
    [
        ("not json", "not valid JSON"),
        (json.dumps({"format": "other", "rows": []}), "format"),
        (json.dumps({"format": LINKS_FORMAT, "rows": []}), "no rows"),
        (json.dumps({"format": LINKS_FORMAT, "rows": [{"bytes": 4}]}), "rows[0]"),
        (json.dumps({"format": LINKS_FORMAT, "rows": [{"bytes": -4, "mbps": 1, "seconds": 1}] * 3}), "rows[0]"),
        (json.dumps({"format": LINKS_FORMAT, "rows": [{"bytes": 4, "mbps": None, "seconds": 1}]}), "at least"),
    ],
)
def test_malformed_link_tables_are_one_line(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as exc:
        Cluster.from_config({"devices": [{"name": "a", "board": "x"}]}, {"bandwidth_mbps": 10, "links": str(path)})
    assert needle in one_line(exc)


def test_network_rejects_negative_overhead_and_unknown_medium_directly() -> None:
    for kw, needle in (({"overhead_s": -1e-3}, "overhead_ms"), ({"medium": "wifi"}, "medium")):
        with pytest.raises(ConfigError) as exc:
            Network({"a": 1.0}, **kw)  # type: ignore[arg-type]
        assert needle in one_line(exc)


@pytest.mark.slow
def test_profile_links_measures_gloo_on_loopback(tmp_path: Path) -> None:
    from splitgym.experiments.cli import main

    out = tmp_path / "links.json"
    code = main(["profile-links", "--where", "loopback", "--sizes", "4,65536", "--messages", "5", "--repeats", "2",
                 "--busy", "0", "-o", str(out)])  # fmt: skip
    assert code == 0
    doc = json.loads(out.read_text())
    assert {r["bytes"] for r in doc["rows"]} == {4, 65536} and all(r["seconds"] > 0 for r in doc["rows"])
    assert load_link_table(out).overhead_s == pytest.approx(doc["fit"]["overhead_ms"] / 1e3)
