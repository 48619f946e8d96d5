"""Bring your own measurements: the profile store wins over derivation, a devices YAML names a
board by a profile file (relative to the YAML), plans record its name and content hash, and a
synthetic foreign profile changes what ``simulate``, the env and training see; a mismatched or
changed one is one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from splitgym.agents.planners import run_planner
from splitgym.costmodels import profile_spec
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError, PlanError, ProfileError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import load_plan
from splitgym.costmodels.profiles import (
    SHIPPED_PROFILES,
    DeviceProfile,
    UnitTable,
    cached_profile_path,
    derive,
    load_or_measure,
    profile_for,
)
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.envs.distredge import DistrEdgeEnv
from splitgym.envs.scenarios import Scenario
from splitgym.experiments.cli import main

SCALE = 3.0


@pytest.fixture(scope="module")
def small() -> ModelGraph:
    return ModelGraph.from_torchvision("vgg11", 64, weights=False)


@pytest.fixture(scope="module")
def local(small: ModelGraph) -> DeviceProfile:
    return load_or_measure(small, "cpu", progress=False)


def scaled(prof: DeviceProfile, board: str, factor: float = SCALE, kind: str = "measured") -> DeviceProfile:
    """``prof`` with every latency times ``factor``, labelled as measured on ``board`` elsewhere."""
    units = [UnitTable(u.name, u.heights, u.widths, [[s * factor for s in r] for r in u.seconds]) for u in prof.units]
    meta = dict(prof.meta, machine={"hostname": "jetson", "torch": "2.x", "threads": 1, "device": "cuda"})
    return DeviceProfile(board, board, kind, prof.model, prof.input_shape, units, prof.head_seconds * factor, meta)


@pytest.fixture
def brought(tmp_path: Path, local: DeviceProfile) -> Path:
    """A devices YAML naming a foreign profile by a path relative to the YAML's folder."""
    scaled(local, "jetson-x").save(tmp_path / "boards" / "foreign.json")
    path = tmp_path / "devices.yaml"
    devs = [{"name": "jetson-0", "profile": "boards/foreign.json"}, {"name": "cpu-1", "board": "local-cpu"}]
    path.write_text(yaml.safe_dump({"name": "mine", "devices": devs}))
    return path


def _all_local(names: tuple[str, ...] = ("jetson-0", "cpu-1")) -> dict:
    return {"name": "local", "devices": [{"name": n, "board": "local-cpu"} for n in names]}


# -- the store ------------------------------------------------------------------------------------
def test_a_measured_profile_in_the_store_wins_over_derivation(
    small: ModelGraph, local: DeviceProfile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SPLITGYM_HOME", str(tmp_path))
    derived = derive(local, "nano", small).total_seconds()
    assert profile_for("nano", small).total_seconds() == pytest.approx(derived)
    stale = scaled(local, "nano", 7.0, kind="derived")  # an old `profile --board` output: skipped
    stale.save(cached_profile_path("nano", small))
    assert profile_for("nano", small).total_seconds() == pytest.approx(derived)
    scaled(local, "nano").save(cached_profile_path("nano", small))  # measured on a real Nano
    assert profile_for("nano", small).total_seconds() == pytest.approx(SCALE * local.total_seconds())
    cluster = Cluster.from_config({"devices": [{"name": "nano-0", "board": "nano"}]}, 100.0)
    assert Simulator(small, cluster).profiles[0].kind == "measured"


def test_profile_board_writes_only_with_o(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SPLITGYM_HOME", str(tmp_path))
    g = ModelGraph.from_torchvision("vgg11", 64, weights=False)
    assert main(["profile", "--board", "nano", "--model", "vgg11", "--input", "64", "--quiet"]) == 0
    assert not cached_profile_path("nano", g).exists()
    out = tmp_path / "nano.json"
    assert main(["profile", "--board", "nano", "--model", "vgg11", "--input", "64", "--quiet", "-o", str(out)]) == 0
    assert DeviceProfile.load(out).kind == "derived"


# -- a brought profile changes what everything sees ----------------------------------------------
def test_a_brought_profile_changes_simulate(
    small: ModelGraph, brought: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    foreign = Simulator(small, Cluster.from_config(str(brought), 100.0))
    plain = Simulator(small, Cluster.from_config(_all_local(), 100.0))
    assert foreign.profiles[0].total_seconds() == pytest.approx(SCALE * plain.profiles[0].total_seconds())
    plan_path = tmp_path / "out" / "plan.json"
    argv = ["plan", "equal", "--model", "vgg11", "--input", "64", "--devices", str(brought), "--bandwidth", "100"]
    assert main([*argv, "--partition", "stages", "-o", str(plan_path)]) == 0
    text = plan_path.read_text()
    dev = json.loads(text)["devices"][0]
    assert dev["board"] == "../boards/foreign.json" and len(dev["profile_sha256"]) == 64  # relative to the plan
    assert str(tmp_path) not in text  # no absolute path in the plan
    capsys.readouterr()
    assert main(["simulate", str(plan_path), "--json"]) == 0
    score = json.loads(capsys.readouterr().out)
    plan = load_plan(plan_path)
    assert score["latency_s"] == pytest.approx(foreign.simulate(plan).latency, rel=1e-9)
    compute = {r["device"]: r["compute_s"] for r in foreign.simulate(plan).per_device()}
    base = {r["device"]: r["compute_s"] for r in plain.simulate(plan).per_device()}
    assert compute["jetson-0"] == pytest.approx(SCALE * base["jetson-0"])
    assert compute["cpu-1"] == pytest.approx(base["cpu-1"])


def test_a_brought_profile_changes_the_env_and_training(small: ModelGraph, brought: Path, tmp_path: Path):
    def env(devices: str) -> DistrEdgeEnv:
        sc = Scenario("byo", model="vgg11", input=64, devices=devices, network="bw100", partition="stages")
        return DistrEdgeEnv(sc)

    mine, plain_yaml = env(str(brought)), tmp_path / "plain.yaml"
    plain_yaml.write_text(yaml.safe_dump(_all_local()))
    plain = env(str(plain_yaml))
    assert mine.sim.profiles[0].total_seconds() == pytest.approx(SCALE * plain.sim.profiles[0].total_seconds())
    assert mine.T_equal > plain.T_equal * 1.2
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "splitgym.agents.train", "experiment=smoke", f"hydra.run.dir={run}"]
    cmd += ["devices=file", f"devices.path={brought}", "network=bw100", "episodes=8", "checkpoint_every=4"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((run / "export" / "summary.json").read_text())
    assert summary["latency_ms"]["equal"] == pytest.approx(mine.T_equal * 1e3, rel=1e-6)
    assert json.loads((run / "export" / "plan.json").read_text())["devices"][0]["board"] == "../../boards/foreign.json"


# -- refusals -------------------------------------------------------------------------------------
def _edit(doc: dict, how: str, local: DeviceProfile) -> dict:
    if how == "other model":
        return {**doc, "model": "vgg13"}
    if how == "other input":
        return json.loads((SHIPPED_PROFILES / "local-cpu_vgg11_3x224x224.json").read_text())
    if how == "other version":
        return {**doc, "version": 99}
    if how == "fewer units":
        return {**doc, "units": doc["units"][:-1]}
    return {**doc, "format": "something.else"}


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("other model", r"measured for vgg13 \[3, 64, 64\], not vgg11 \[3, 64, 64\]"),
        ("other input", r"measured for vgg11 \[3, 224, 224\], not vgg11 \[3, 64, 64\]"),
        ("other version", r"version: expected 1, got 99"),
        ("fewer units", r"has 12 units, model has 13"),
        ("other format", r"format: expected 'splitgym.profile'"),
    ],
)
def test_a_mismatched_profile_is_one_line_naming_the_device(
    small: ModelGraph, local: DeviceProfile, brought: Path, how: str, message: str
):
    path = brought.parent / "boards" / "foreign.json"
    path.write_text(json.dumps(_edit(json.loads(path.read_text()), how, local)))
    with pytest.raises(ProfileError, match=rf"^devices\.jetson-0\.profile.*{message}") as exc:
        Simulator(small, Cluster.from_config(str(brought), 100.0))
    assert "\n" not in str(exc.value)


def test_a_missing_profile_file_and_a_missing_path_are_one_line(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"^devices\.j0\.profile: no such file .*nope\.json"):
        Cluster.from_config({"devices": [{"name": "j0", "profile": "nope.json"}]}, 100.0)
    with pytest.raises(ConfigError, match=r"^devices\.j0: give a board or a profile file"):
        Cluster.from_config({"devices": [{"name": "j0", "board": "nano", "profile": "x.json"}]}, 100.0)
    with pytest.raises(ConfigError, match=r"^devices\.path: set it to your devices YAML"):
        Cluster.from_config("file", 100.0)


def test_plans_find_the_profile_by_hash_and_refuse_a_changed_one(
    small: ModelGraph, brought: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    cluster = Cluster.from_config({"path": str(brought)}, 100.0)  # a mapping naming the YAML: Hydra's devices=file
    sim = Simulator(small, cluster)
    plan = run_planner("equal", small, cluster, partition="stages")
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    plan.save(moved / "plan.json")
    assert json.loads((moved / "plan.json").read_text())["devices"][0]["board"] == "../boards/foreign.json"
    monkeypatch.setattr(profile_spec, "_SEEN", {})  # a fresh process: found by the relative path
    assert load_plan(moved / "plan.json").cluster().devices[0].board == str(brought.parent / "boards" / "foreign.json")
    shutil.move(brought.parent / "boards" / "foreign.json", moved / "foreign.json")
    monkeypatch.setattr(profile_spec, "_SEEN", {})  # moved next to the plan: found by its name there
    again = load_plan(moved / "plan.json")
    assert Simulator(small, again.cluster()).simulate(again).latency == pytest.approx(sim.simulate(plan).latency)
    doc = json.loads((moved / "foreign.json").read_text())
    (moved / "foreign.json").write_text(json.dumps(doc, indent=4))  # re-indented: the same content
    load_plan(moved / "plan.json")
    doc["head_seconds"] *= 2
    (moved / "foreign.json").write_text(json.dumps(doc))
    monkeypatch.setattr(profile_spec, "_SEEN", {})
    with pytest.raises(PlanError, match=r"^devices\.jetson-0\.profile_sha256: .* the plan recorded") as exc:
        load_plan(moved / "plan.json")
    assert "\n" not in str(exc.value)
    (moved / "foreign.json").unlink()
    monkeypatch.setattr(profile_spec, "_SEEN", {})
    with pytest.raises(PlanError, match=r"^devices\.jetson-0\.board: profile file '../boards/foreign.json' not found"):
        load_plan(moved / "plan.json")


def test_splitgym_train_takes_a_devices_yaml_path():
    from splitgym.experiments.cli import train_overrides

    got = train_overrides(["devices=my/devices.yaml", "episodes=5", "devices.path=x"])
    assert got == ["devices=file", "devices.path=my/devices.yaml", "episodes=5", "devices.path=x"]
    assert train_overrides(["devices=DB", "-m", "devices=DA,DB"]) == ["devices=DB", "-m", "devices=DA,DB"]
