"""A derived board's shape chosen per device (``derive: gpu | linear | table``): the linear boards
DistrEdge's thesis is tested against (issue 17, item 5) beside the GPU-shaped default, recorded
in plans, with one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.profiles import profile_for
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.experiments.cli import main


@pytest.fixture(scope="module")
def small() -> ModelGraph:
    return ModelGraph.from_torchvision("vgg11", 64, weights=False)


def _cluster(derive: str | None) -> Cluster:
    extra = {} if derive is None else {"derive": derive}
    devices = [{"name": "nano-0", "board": "nano", **extra}, {"name": "xavier-0", "board": "xavier", **extra}]
    return Cluster.from_config({"name": "two", "devices": devices}, 100.0)


def _ratio(small: ModelGraph, cluster: Cluster) -> np.ndarray:
    """Nano over Xavier seconds per unit at full height."""
    cache: dict = {}
    nano, xavier = (profile_for(d.spec, small, cache) for d in cluster.devices)
    return np.array([n.at([n.heights[-1]])[0] / x.at([x.heights[-1]])[0] for n, x in zip(nano.units, xavier.units)])


def test_linear_derivation_is_one_ratio_and_the_default_is_gpu_shaped(small: ModelGraph):
    linear, default = _ratio(small, _cluster("linear")), _ratio(small, _cluster(None))
    assert np.ptp(linear) < 1e-9 * linear.max()  # every unit scaled by one number
    assert np.ptp(default) > 0.1 * default.max()  # the wave model: unit-dependent
    np.testing.assert_allclose(_ratio(small, _cluster("gpu")), default)


def test_plan_records_the_derivation_and_simulate_uses_it(small: ModelGraph, tmp_path: Path, capsys):
    cfg = tmp_path / "lin.yaml"
    cfg.write_text(yaml.safe_dump({"name": "lin", "devices": [{"name": "n", "board": "nano", "derive": "linear"}]}))
    plan_path = tmp_path / "plan.json"
    argv = ["plan", "equal", "--model", "vgg11", "--input", "64", "--devices", str(cfg), "--bandwidth", "100"]
    assert main([*argv, "-o", str(plan_path)]) == 0
    assert json.loads(plan_path.read_text())["devices"][0]["derive"] == "linear"
    capsys.readouterr()
    assert main(["simulate", str(plan_path), "--json"]) == 0
    simulated = json.loads(capsys.readouterr().out)["latency_s"]
    lin = Cluster.from_config(str(cfg), 100.0)
    gpu = Cluster.from_config({"name": "g", "devices": [{"name": "n", "board": "nano"}]}, 100.0)
    from splitgym.costmodels.plan import load_plan

    plan = load_plan(plan_path)
    assert simulated == pytest.approx(Simulator(small, lin).simulate(plan).latency, rel=1e-9)
    assert abs(simulated - Simulator(small, gpu).simulate(plan).latency) > 1e-6  # the derivation took effect


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"board": "nano", "derive": "cubic"}, "devices.d.derive: expected one of gpu, linear, table, got 'cubic'"),
        ({"board": "local-cpu", "derive": "linear"}, "devices.d.derive: local-cpu is measured here"),
        ({"board": "pi3", "derive": "gpu"}, "devices.d.derive: gpu needs a GPU board, pi3 is a cpu board"),
        ({"board": "cray-1", "derive": "linear"}, "board: unknown board 'cray-1'"),
    ],
)
def test_bad_derivations_are_one_line(entry: dict, message: str):
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")) as err:
        Cluster.from_config({"devices": [{"name": "d", **entry}]}, 100.0)
    assert "\n" not in str(err.value)
