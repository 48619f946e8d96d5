"""Device names and the physical ranges of cost inputs (costmodels/limits.py; issue 22's leftovers):
a plan's device named ``""`` or ``300`` and absurd but finite sizes (``latency_ms: 1e300``) are
refused in one line naming the field and the value; the range's own ends are accepted."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitgym.agents.planners import run_planner
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError, PlanError, ProfileError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.limits import MAX_LATENCY_MS, MAX_MBPS, MIN_MBPS, check_range
from splitgym.costmodels.link_table import fit_links
from splitgym.costmodels.network import BandwidthTrace
from splitgym.costmodels.plan import Plan, load_plan
from splitgym.costmodels.profiles import SHIPPED_PROFILES, DeviceProfile
from tests.test_bad_input import _one


@cache
def _plan_doc() -> str:
    graph = ModelGraph.from_torchvision("vgg11", 64, weights=False)
    return run_planner("equal", graph, Cluster.from_config("DB", 300.0)).model_dump_json(exclude_none=True)


def _plan_with(path: tuple, value: Any) -> dict:
    doc = json.loads(_plan_doc())
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    "path, value, needle",
    [
        (("devices", 1, "name"), "", "devices.1.name: a device name must be a non-empty string, got ''"),
        (("devices", 1, "name"), "  ", "devices.1.name: a device name must be a non-empty string, got '  '"),
        (("devices", 1, "name"), 300, "devices.1.name: a device name must be a non-empty string, got 300"),
        (("network", "latency_ms"), 1e300, "network.latency_ms: Input should be less than or equal to 10000000"),
        (("network", "overhead_ms"), 1e8, "network.overhead_ms: Input should be less than or equal to 10000000"),
        (("network", "transport_ms"), 1e300, "network.transport_ms: Input should be less than or equal"),
        (("network", "requester_mbps"), 1e-9, "network.requester_mbps: Input should be greater than or equal to"),
        (("devices", 0, "bandwidth_mbps"), 1e13, "devices.0.bandwidth_mbps: Input should be less than or equal"),
    ],
)
def test_plan_device_names_and_sizes_are_refused_in_one_line(
    tmp_path: Path, path: tuple, value: Any, needle: str
) -> None:
    file = tmp_path / "p.json"
    file.write_text(json.dumps(_plan_with(path, value)))
    with pytest.raises(PlanError) as exc:
        load_plan(file)
    msg = _one(exc)
    assert msg.startswith(f"plan {file}: ") and needle in msg, msg


def test_plan_range_ends_are_accepted() -> None:
    doc = _plan_with(("network", "latency_ms"), MAX_LATENCY_MS)
    doc["network"]["requester_mbps"] = MIN_MBPS
    doc["devices"][0]["bandwidth_mbps"] = MAX_MBPS
    plan = Plan.parse(doc)
    assert plan.network.latency_ms == MAX_LATENCY_MS and plan.devices[0].bandwidth_mbps == MAX_MBPS
    assert plan.cluster().network.latency_s == MAX_LATENCY_MS / 1e3


NET, DEV = "bandwidth_mbps: 3\n", "name: lab\ndevices:\n  - {name: a, board: nano"


@pytest.mark.parametrize(
    "network, text, needle",
    [
        (True, NET + "latency_ms: 1.0e+300\n", "latency_ms: Input should be less than or equal to 10000000"),
        (True, NET + "overhead_ms: 2.0e+7\n", "overhead_ms: Input should be less than or equal to 10000000"),
        (True, "bandwidth_mbps: 1.0e-300\n", "bandwidth_mbps: Input should be greater than or equal to 0.000001"),
        (True, "per_device_mbps: [1.0e+13, 1, 1, 1]\n", "per_device_mbps.0: Input should be less than or equal"),
        (True, NET + "requester_mbps: 1.0e+300\n", "requester_mbps: Input should be less than or equal to"),
        (True, NET + "trace: {high_mbps: 1.0e+13}\n", "trace.high_mbps: Input should be less than or equal"),
        (False, DEV + ", memory_mb: 1.0e+300}\n", "devices.a.memory_mb: 1e+300 is outside the physical range"),
        (False, DEV + ", reserved_mb: 2.0e+9}\n", "devices.a.reserved_mb: 2e+09 is outside the physical range"),
        (False, "devices: [{name: '', board: nano}]\n", "devices.0.name: a device name must be a non-empty string"),
        (False, "devices: [{name: 1.5, board: nano}]\n", "devices.0.name: a device name must be a non-empty string"),
    ],
)
def test_yaml_sizes_outside_the_physical_range_are_refused(
    tmp_path: Path, network: bool, text: str, needle: str
) -> None:
    path = tmp_path / "in.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        Cluster.from_config("DB", str(path)) if network else Cluster.from_config(str(path), 100.0)
    assert needle in _one(exc), _one(exc)


def test_bandwidth_number_trace_links_and_profile_times_are_bounded(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^bandwidth_mbps: 1e\+300 is outside the physical range"):
        Cluster.from_config("DB", 1e300)
    csv = tmp_path / "t.csv"
    csv.write_text("time_s,mbps\n0,100\n10,1e300\n")
    with pytest.raises(ConfigError, match=r"trace: mbps: 1e\+300 is outside"):
        BandwidthTrace.from_csv(csv)
    rows = [{"bytes": 1000, "mbps": 100, "seconds": 1e-3}, {"bytes": 10**6, "mbps": 100, "seconds": 1e300}]
    with pytest.raises(ConfigError, match=r"links t.json: rows\[1\].seconds: 1e\+300 is outside"):
        fit_links(rows, where="links t.json")
    doc = json.loads((SHIPPED_PROFILES / "local-cpu_vgg11_3x64x64.json").read_text())
    doc["head_seconds"] = 1e300
    with pytest.raises(ProfileError) as exc:
        DeviceProfile.from_json(doc, where="profile p.json")
    assert "head_seconds: Input should be less than or equal to 10000" in _one(exc)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.one_of(st.floats(), st.integers(-(2**70), 2**70), st.booleans(), st.none(), st.text(max_size=3)))
def test_check_range_accepts_exactly_the_finite_numbers_in_range(value: Any) -> None:
    try:
        got = check_range("x_mbps", value, MIN_MBPS, MAX_MBPS, ConfigError)
    except ConfigError as exc:
        assert str(exc).startswith("x_mbps: ") and "\n" not in str(exc)
        in_range = isinstance(value, (int, float)) and not isinstance(value, bool) and MIN_MBPS <= value <= MAX_MBPS
        assert not in_range
        return
    assert got == value and not isinstance(value, bool) and math.isfinite(value) and MIN_MBPS <= value <= MAX_MBPS
