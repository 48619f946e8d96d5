"""The ``splitgym`` command, called in process (plus one real subprocess for ``--help``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import load_plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.experiments.cli import main

VERBS = ["graph", "profile", "plan", "simulate", "list"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_error_line(rc: int, out: str, err: str) -> str:
    assert rc == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    assert lines[0].startswith("splitgym")
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(autouse=True, scope="module")
def _trace_each_model_once():
    """The verbs trace their model on every call (~2 s for VGG-16); the traced graph is a pure
    function of (name, size, seed, weights), so share one per module to keep the suite fast."""
    real = ModelGraph.from_torchvision.__func__  # type: ignore[attr-defined]
    cache: dict[tuple, ModelGraph] = {}

    def cached(cls, name, input_size=None, seed=0, weights=True):
        key = (name, input_size, seed, weights)
        if key not in cache:
            cache[key] = real(cls, name, input_size, seed, weights)
        return cache[key]

    mp = pytest.MonkeyPatch()
    mp.setattr(ModelGraph, "from_torchvision", classmethod(cached))
    yield cache
    mp.undo()


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``splitgym plan equal --model vgg16 --devices DB --bandwidth 300 -o .../plan.json``."""
    path = tmp_path_factory.mktemp("cli") / "tmp" / "plan.json"
    assert main(["plan", "equal", "--model", "vgg16", "--devices", "DB", "--bandwidth", "300", "-o", str(path)]) == 0
    return path


def test_help_in_a_subprocess() -> None:
    script = Path(sys.executable).with_name("splitgym")
    assert script.exists(), script
    res = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: splitgym")
    listed = [line.split()[0] for line in res.stdout.splitlines() if line.startswith("    ") and line.split()]
    for verb in VERBS:
        assert verb in listed, f"{verb} not listed in --help: {res.stdout}"


def test_graph_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "graph", "vgg16", "--json")
    assert rc == 0
    data = json.loads(out)
    assert len(data["units"]) == 18
    assert [u["index"] for u in data["units"]] == list(range(18))
    assert list(data["input"]) == [3, 224, 224]
    assert data["head"] is not None
    assert data["flops"] == sum(u["flops"] for u in data["units"]) + data["head"]["flops"]


def test_plan_writes_a_valid_file(plan_file: Path) -> None:
    plan = load_plan(plan_file)
    assert plan.method == "equal"
    assert plan.model.name == "vgg16"
    assert [d.board for d in plan.devices] == ["xavier", "xavier", "nano", "nano"]
    assert {d.bandwidth_mbps for d in plan.devices} == {300.0}
    assert len(plan.volumes) == 18


def test_plan_prints_json_and_a_table(capsys: pytest.CaptureFixture[str], plan_file: Path) -> None:
    # the same plan printed as JSON equals the file the fixture wrote
    rc, out, err = run(capsys, "plan", "equal", "--model", "vgg16", "--devices", "DB", "--bandwidth", "300", "--json")
    assert rc == 0 and err == ""
    assert json.loads(out) == json.loads(plan_file.read_text())
    rc, out, err = run(capsys, "plan", "equal", "--devices", "DB", "--partition", "single")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["volume", "units", "rows"]
    assert lines[2].split() == ["0", "0..17", "0,2,4,5,7"]
    assert len(lines) == 3


def test_simulate_json(capsys: pytest.CaptureFixture[str], plan_file: Path) -> None:
    rc, out, err = run(capsys, "simulate", str(plan_file), "--json")
    assert rc == 0, err
    data = json.loads(out)
    assert data["latency_s"] > 0 and data["kind"] == "volumes" and data["method"] == "equal"
    assert data["ips"] == pytest.approx(1.0 / data["latency_s"], rel=1e-12)
    assert data["detail"]["devices"] == ["xavier-0", "xavier-1", "nano-0", "nano-1"]
    assert len(data["detail"]["volumes"]) == 18
    assert [r["device"] for r in data["per_device"]] == data["detail"]["devices"]


def test_simulate_table(capsys: pytest.CaptureFixture[str], plan_file: Path) -> None:
    rc, out, err = run(capsys, "simulate", str(plan_file))
    assert rc == 0, err
    assert "end-to-end latency" in out and "images/s" in out
    assert "equal on vgg16" in out


def test_plan_list(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "plan", "--list")
    assert rc == 0
    assert any(line.split()[:1] == ["equal"] for line in out.splitlines())
    rc, out, _ = run(capsys, "plan", "--list", "--json")
    assert rc == 0 and "equal" in json.loads(out)


def test_list_devices(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "list", "devices")
    assert rc == 0
    names = out.split()
    for g in ["DA", "DB", "DC", "LA", "LB", "LC", "LD", "all-nano", "all-xavier"]:
        assert g in names


def test_list_networks_and_boards_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "list", "networks", "--json")
    assert rc == 0 and {"NA", "ND", "LB", "bw300"} <= set(json.loads(out))
    rc, out, _ = run(capsys, "list", "boards", "--json")
    assert rc == 0 and {"pi3", "nano", "tx2", "xavier"} <= {b["name"] for b in json.loads(out)}


def test_profile_a_board(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "tmp" / "nano.json"
    rc, out, err = run(capsys, "profile", "--board", "nano", "--model", "vgg16", "-o", str(path), "--json", "--quiet")
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["kind"] == "derived" and summary["board"] == "nano"
    assert summary["file"] == str(path)
    prof = DeviceProfile.load(path)
    assert prof.kind == "derived" and prof.board == "nano" and prof.model == "vgg16"
    assert prof.total_seconds() == pytest.approx(summary["total_s"])
    assert summary["linear_fit_mape_pct"] >= 0


# -- bad input: exit 2, one line on stderr, nothing on stdout -------------------------------------
def test_unknown_model(capsys: pytest.CaptureFixture[str]) -> None:
    line = assert_one_error_line(*run(capsys, "graph", "nosuchnet"))
    assert "nosuchnet" in line


def test_unknown_model_in_plan(capsys: pytest.CaptureFixture[str]) -> None:
    line = assert_one_error_line(*run(capsys, "plan", "equal", "--model", "nosuchnet"))
    assert line.startswith("splitgym plan:") and "nosuchnet" in line


def test_unknown_devices(capsys: pytest.CaptureFixture[str]) -> None:
    line = assert_one_error_line(*run(capsys, "plan", "equal", "--devices", "DZZ", "--bandwidth", "300"))
    assert "'DZZ'" in line


def test_unknown_planner(capsys: pytest.CaptureFixture[str]) -> None:
    line = assert_one_error_line(*run(capsys, "plan", "magic", "--devices", "DB"))
    assert "'magic'" in line


def test_bandwidth_and_network_together(capsys: pytest.CaptureFixture[str]) -> None:
    line = assert_one_error_line(
        *run(capsys, "plan", "equal", "--devices", "DB", "--bandwidth", "300", "--network", "NA")
    )
    assert "--bandwidth" in line and "--network" in line


def test_negative_bandwidth(capsys: pytest.CaptureFixture[str]) -> None:
    line = assert_one_error_line(*run(capsys, "plan", "equal", "--devices", "DB", "--bandwidth", "-5"))
    assert "-5" in line


def test_zero_bandwidth(capsys: pytest.CaptureFixture[str]) -> None:
    assert_one_error_line(*run(capsys, "plan", "equal", "--devices", "DB", "--bandwidth", "0"))


def test_missing_plan_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = assert_one_error_line(*run(capsys, "simulate", str(tmp_path / "gone.json")))
    assert line.startswith("splitgym simulate:") and "gone.json" in line


def test_malformed_plan_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{ not json")
    line = assert_one_error_line(*run(capsys, "simulate", str(path)))
    assert "not valid JSON" in line


def test_plan_file_of_the_wrong_version(capsys: pytest.CaptureFixture[str], plan_file: Path, tmp_path: Path) -> None:
    data = json.loads(plan_file.read_text())
    data["version"] = 3
    path = tmp_path / "v3.json"
    path.write_text(json.dumps(data))
    line = assert_one_error_line(*run(capsys, "simulate", str(path)))
    assert "version" in line


def test_argument_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2  # argparse's exit, returned by main (in-process callers too)
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.startswith("splitgym")
