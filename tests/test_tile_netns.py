"""Tile plans over real shaped links (``--links netns``): one process per device, each in its own
network namespace on a LAN shaped by ``tc tbf``; the output equals the unsplit model, the halo
bytes on the wire equal the tile cost model's, and the measured latency pays their wire time.
Needs root and iproute2 (CI runs as root)."""

from __future__ import annotations

import os
import subprocess

import pytest

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import SplitgymError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.slicing import Region
from splitgym.costmodels.tiles.tile_cost import score_tiles, tile_plan
from splitgym.costmodels.tiles.tile_layouts import t_layout
from splitgym.executors import netns
from splitgym.executors.tiles.tile_runner import run_tiles_distributed

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(netns.netns_available() is not None, reason="needs root and iproute2"),
]


def _ours() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(f"sg{os.getpid()}-")]


def test_tile_plan_over_netns_is_exact_and_pays_the_wire_time() -> None:
    g = ModelGraph.from_torchvision("vgg11", 64)
    mbps = 20.0
    cluster = Cluster.from_config(
        {"name": "c3", "devices": [{"name": f"d{i}", "board": "local-cpu"} for i in range(3)]}, mbps
    )
    plan = tile_plan("test", g, cluster, t_layout(64, 64, 21, 30))
    res = run_tiles_distributed(plan, links="netns", images=2, warmup=1, timeout_s=240)
    assert res.links == "netns" and len(res.latency_s) == 2
    assert res.feature_error < 1e-4 and res.output_error < 1e-4
    sc = score_tiles(g, rects=plan)
    assert sum(res.bytes_sent.values()) == int(sc.total_bytes)
    # every device's incoming halo crosses its own 20 Mbit shaper: the slowest receiver's bytes
    # bound every image's latency from below; the cost model's time, loosely, from above
    wire = float(sc.comm_bytes.max()) * 8 / (mbps * 1e6)
    assert wire > 0.05
    assert min(res.latency_s) >= 0.9 * wire
    assert res.latency_median_s <= 4 * sc.end_to_end + 1.0, (res.latency_s, sc.end_to_end)
    assert _ours() == []


def test_tile_netns_without_root_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    g = ModelGraph.from_torchvision("vgg11", 64)
    cluster = Cluster.from_config(
        {"name": "c2", "devices": [{"name": f"d{i}", "board": "local-cpu"} for i in range(2)]}, 20.0
    )
    plan = tile_plan("test", g, cluster, [Region(0, 32, 0, 64), Region(32, 64, 0, 64)])
    with pytest.raises(SplitgymError, match=r"^links: 'netns' needs root .*use --links emulated"):
        run_tiles_distributed(plan, links="netns")
    with pytest.raises(SplitgymError, match=r"^links: unknown link mode 'x'"):
        run_tiles_distributed(plan, links="x")
