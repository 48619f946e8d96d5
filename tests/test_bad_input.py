"""Each bad input the issue names (#22, "Why"), refused at load in one line naming the file, the
field and the value; the fuzz suite (test_fuzz_inputs.py) covers the generated rest."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from splitgym.agents.config_check import check_config
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError, PlanError, ProfileError
from splitgym.costmodels.inputfile import read_text
from splitgym.costmodels.network import BandwidthTrace
from splitgym.costmodels.profiles import SHIPPED_PROFILES, DeviceProfile
from splitgym.experiments.cli import main


def _one(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("kind", ["fifo", "selflink", "devzero", "dir", "binary", "big"])
def test_non_regular_binary_or_huge_files_are_refused_before_reading(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "in.json"
    if kind == "fifo":
        os.mkfifo(path)  # open() would block forever
    elif kind == "selflink":
        path.symlink_to(path)
    elif kind == "devzero":
        path = Path("/dev/zero")  # reading would never end
    elif kind == "dir":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(bytes(range(256)))
    else:
        path.write_bytes(b" " * 2000)
    with pytest.raises(PlanError) as exc:
        read_text(path, "plan", PlanError, max_bytes=1000)
    expected = {"fifo": "not a regular file", "selflink": "symlink loop", "devzero": "not a regular file",
                "dir": "is a directory", "binary": "binary", "big": "2000 bytes"}[kind]  # fmt: skip
    assert expected in _one(exc)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("bandwidth_mbps: true\n", "bandwidth_mbps: Input should be a valid number (got true)"),
        ("bandwidth_mbps: abc\n", "bandwidth_mbps: Input should be a valid number"),
        ("bandwidth_mbps: [1, 2]\n", "bandwidth_mbps: Input should be a valid number (got [1, 2])"),
        ("bandwidth_mbps: 3\nlatency_ms: -1\n", "latency_ms: Input should be greater than or equal to 0 (got -1)"),
        ("bandwidth_mbps: 3\ntrace: abc\n", "trace: Input should be a valid dictionary"),
        ("bandwidth_mbps: 3\ntrace: {step_s: 0}\n", "trace.step_s: Input should be greater than 0"),
        ("bandwidth_mbps: 3\ntrace: {step_s: 1.0e-9, duration_s: 1.0e+9}\n", "gives 1e+18 points"),
        ("bandwidth_mbps: ${nosuch.key}\n", "bandwidth_mbps: Interpolation key 'nosuch.key' not found"),
        ("bandwidth_mbps:\n\t3\n", "not valid YAML (found character '\\t' that cannot start any token at line 2"),
        ("bandwidth_mbps: 3\nbandwidth_mbps: 4\n", "found duplicate key bandwidth_mbps"),
        ("42\n", "does not hold a mapping"),
        ("a: " + "[" * 5000 + "\n", "nested too deep"),
        ("bandwith_mbps: 3\nbandwidth_mbps: 3\n", "bandwith_mbps: Extra inputs are not permitted"),
    ],
)
def test_network_yaml_is_typed_at_load(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        Cluster.from_config("DB", str(path))
    msg = _one(exc)
    assert msg.startswith(f"network {path}") and needle in msg, msg


@pytest.mark.parametrize(
    "rows, needle",
    [
        ("0,100\n0,50\n", "times must strictly increase"),
        ("0,100\n10\n", "line 3: 1 cells for 2 columns"),
        ("0,nan\n", "finite and > 0, got nan"),
        ("0,100\ninf,5\n", "be finite"),
    ],
)
def test_trace_csv_rows_are_checked(tmp_path: Path, rows: str, needle: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text("time_s,mbps\n" + rows)
    with pytest.raises(ConfigError) as exc:
        BandwidthTrace.from_csv(path)
    assert needle in _one(exc)


def _profile_doc() -> dict:
    return json.loads((SHIPPED_PROFILES / "local-cpu_vgg11_3x64x64.json").read_text())


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda u: u.update(heights=[]), "units.0.heights: List should have at least 1 item"),
        (lambda u: u.update(heights=["a"] * len(u["heights"])), "units.0.heights.0: Input should be a valid integer"),
        (lambda u: u.update(seconds=u["seconds"][:-1]), "units.0: seconds: expected 14 rows of 1"),
        (lambda u: u["seconds"][0].__setitem__(0, float("nan")), "Input should be a finite number"),
        (lambda u: u["seconds"][0].__setitem__(0, -9.7e11), "greater than or equal to 0"),
    ],
)
def test_profile_tables_are_typed(change, needle: str) -> None:
    doc = _profile_doc()
    change(doc["units"][0])
    with pytest.raises(ProfileError) as exc:
        DeviceProfile.from_json(doc, where="profile p.json")
    assert needle in _one(exc)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["profile", "--threads", "0"], "argument --threads: expected an integer in 1.."),
        (["profile", "--threads", "10000"], "argument --threads: expected an integer in 1.."),
        (["profile", "--min-run-time", "nan"], "argument --min-run-time: expected a finite number"),
        (["profile", "--device", "cuda:99"], "argument --device"),
        (["execute", "p.json", "--port", "-1"], "argument --port: expected an integer in 1024..65535, got -1"),
        (["graph", "vgg11", "--input", "9" * 5000], "argument --input: expected an integer"),
        (["plan", "equal", "--model", "vgg11", "--input", "64", "--partition", "5,3"], "must strictly increase"),
        (["plan", "equal", "--bandwidth", "0"], "argument --bandwidth"),
    ],
)
def test_cli_arguments_are_bounded(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and needle in err, err


def test_at_is_refused_where_a_plan_file_has_no_trace(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = tmp_path / "p.json"
    assert main(["plan", "equal", "--model", "vgg11", "--input", "64", "-o", str(plan)]) == 0
    capsys.readouterr()
    assert main(["simulate", str(plan), "--at", "5"]) == 2
    assert "--at: a volumes plan file holds fixed bandwidths" in capsys.readouterr().err
    assert main(["simulate", str(plan), "--at", "0"]) == 0


def test_unexpected_exceptions_are_one_line_unless_debug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import splitgym.experiments.cli as cli

    def boom(args: object) -> None:
        raise KeyError("deep inside")

    monkeypatch.setattr(cli, "cmd_list", boom)
    monkeypatch.delenv("SPLITGYM_DEBUG", raising=False)
    assert main(["list", "devices"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "internal error: KeyError: 'deep inside'" in err and "--debug" in err
    with pytest.raises(KeyError):
        main(["--debug", "list", "devices"])
    monkeypatch.delenv("SPLITGYM_DEBUG", raising=False)


@pytest.mark.parametrize(
    "overrides, needle",
    [
        (["seed=4294967296"], "seed: must be an integer <= 4294967295"),
        (["seed=null"], "seed: must be an integer >= 0, got None"),
        (["agent.kwargs.learning_rate=-1"], "agent.kwargs.learning_rate: expected a number in (0, inf), got -1"),
        (["agent.noise.variance=-1"], "agent.noise.variance: expected a number in [0, inf)"),
        (["device=foo"], "device: expected cpu, cuda, cuda:N or auto, got 'foo'"),
        (["env=msmdi", "agent=ddpg"], "agent=ddpg: splitgym/MSMDI-v0 has discrete actions"),
        (["env=nptp", "env.bandwidth_mbps=0"], "env.bandwidth_mbps: expected a number in (0, inf), got 0"),
        (["+nosuch=1"], "nosuch: not a setting of splitgym train"),
    ],
)
def test_train_values_are_checked(overrides: list[str], needle: str) -> None:
    from hydra import compose, initialize_config_module

    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        cfg = compose(config_name="train", overrides=overrides)
    with pytest.raises(ConfigError) as exc:
        check_config(cfg)
    assert needle in _one(exc)


def test_cuda_without_cuda_is_refused_not_run_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from hydra import compose, initialize_config_module

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a machine without CUDA, here or not
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        cfg = compose(config_name="train", overrides=["device=cuda"])
    with pytest.raises(ConfigError, match="no CUDA device"):
        check_config(cfg)
    assert main(["profile", "--device", "cuda"]) == 2


@pytest.mark.parametrize("mbps", [0, 0.0, -1.0, float("nan"), True])
def test_nptp_bandwidth_zero_is_refused_not_replaced_by_the_default(mbps: float) -> None:
    from splitgym.envs.nptp import NPTPEnv

    with pytest.raises(ConfigError) as exc:  # 0 used to become the default 4.0 Mbps (`bandwidth_mbps or 4.0`)
        NPTPEnv(model="vgg11", input=64, devices="nptp3", bandwidth_mbps=mbps)
    assert "network" in _one(exc) or "bandwidth_mbps" in _one(exc)


@pytest.mark.parametrize(
    "entry, needle",
    [
        ("{name: a, board: nano, memroy_mb: 512}", "devices.0.memroy_mb: Extra inputs are not permitted"),
        ("{name: a, board: nano, memory_mb: .nan}", "devices.a.memory_mb: expected MiB >= 0, got nan"),
        ("{name: a, board: nano, availability: [[5, 2]]}", "devices.0.availability.0.1: Input should be 0 or 1"),
        ("{name: a, board: nano, activation_share: 2}", "devices.0.activation_share: Input should be less than"),
    ],
)
def test_devices_yaml_keys_are_known_and_typed(tmp_path: Path, entry: str, needle: str) -> None:
    path = tmp_path / "dev.yaml"
    path.write_text(f"name: lab\ndevices:\n  - {entry}\n")
    with pytest.raises(ConfigError) as exc:
        Cluster.from_config(str(path), 100.0)
    assert needle in _one(exc), _one(exc)


@pytest.mark.parametrize(
    "field, value, needle",
    [
        ("transport_ms", True, "network: transport_ms: expected a number, not a boolean (got true)"),
        ("rows", True, "volumes.0: rows: expected a number, not a boolean"),
    ],
)
def test_plan_booleans_are_not_numbers(tmp_path: Path, field: str, value: bool, needle: str) -> None:
    path = tmp_path / "p.json"
    assert main(["plan", "equal", "--model", "vgg11", "--input", "64", "-o", str(path)]) == 0
    doc = json.loads(path.read_text())
    if field == "rows":
        doc["volumes"][0]["rows"][1] = value
    else:
        doc["network"][field] = value
    path.write_text(json.dumps(doc))
    with pytest.raises(PlanError) as exc:
        from splitgym.costmodels.plan import load_plan

        load_plan(path)
    assert needle in _one(exc)


def test_trace_row_with_an_extra_cell_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("time_s,mbps\n0,1,5\n")  # a decimal comma: 1,5 would have been read as 1
    with pytest.raises(ConfigError, match="line 2: 3 cells for 2 columns"):
        BandwidthTrace.from_csv(path)
