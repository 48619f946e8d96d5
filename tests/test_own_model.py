"""Your own model everywhere: a ``FILE.py:factory`` (or a ``_target_`` in conf/model) builds the same
module under the same seed in every process, and goes through graph, plan, simulate, execute (local
and distributed) and train from the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_module

from splitgym.agents.tasks.config_groups import model_spec
from splitgym.costmodels.errors import UnsupportedModelError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import build_model, resolve_model_spec

EXAMPLE = Path(__file__).resolve().parents[1] / "experiments" / "examples" / "tiny_cnn.py"
SPEC = f"{EXAMPLE}:build"


def test_a_spec_builds_the_same_module_under_the_same_seed():
    a, b, c = build_model(SPEC, seed=0), build_model(SPEC, seed=0), build_model(SPEC, seed=1)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert not all(torch.equal(a.state_dict()[k], c.state_dict()[k]) for k in a.state_dict())
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(a(x), b(x))


def test_relative_file_spec_is_made_absolute(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(EXAMPLE.parent)
    assert resolve_model_spec("tiny_cnn.py:build") == SPEC
    assert resolve_model_spec("vgg16") == "vgg16"


@pytest.mark.parametrize(
    ("spec", "line"),
    [
        ("nope/none.py:build", "model: no such file 'nope/none.py'"),
        (f"{EXAMPLE}:missing", f"model: '{EXAMPLE}' has no callable 'missing'"),
        ("splitgym.experiments.examples.tiny_cnn:TinyResNet.forward", "model: 'splitgym.experiments.examples"),
        ("no_such_package_xyz:build", "model: cannot import 'no_such_package_xyz'"),
    ],
)
def test_bad_specs_are_one_line(spec: str, line: str):
    with pytest.raises(UnsupportedModelError) as info:
        build_model(spec)
    assert str(info.value).startswith(line) and "\n" not in str(info.value)


def test_target_entry_in_conf_model_is_the_same_model_as_the_file():
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        cfg = compose(config_name="train", overrides=["model=tiny_cnn"])
    spec = model_spec(cfg.model)
    assert spec == "splitgym.experiments.examples.tiny_cnn:build"
    by_target = ModelGraph.from_torchvision(spec, cfg.model.input)
    by_file = ModelGraph.from_torchvision(SPEC, cfg.model.input)
    assert by_target.num_units == by_file.num_units == 4
    assert [u.name for u in by_target.units] == [u.name for u in by_file.units]
    assert by_target.params == by_file.params


def _cli(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPLITGYM_HOME": str(tmp / "home")}  # its own profile cache: measured here
    cmd = [sys.executable, "-m", "splitgym.experiments.cli", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


@pytest.mark.slow
def test_own_model_file_through_every_cli_verb_and_training(tmp_path: Path):
    (tmp_path / "tiny_cnn.py").write_text(EXAMPLE.read_text())  # a user's file, by a relative path
    spec = "tiny_cnn.py:build"
    graph = json.loads(_cli(tmp_path, "graph", spec, "--input", "48", "--json").stdout)
    assert len(graph["units"]) == 4 and graph["input"] == [3, 48, 48]
    _cli(tmp_path, "plan", "aofl", "--model", spec, "--input", "48", "--devices", "DB", "-o", "plan.json")
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["model"]["name"] == f"{tmp_path / 'tiny_cnn.py'}:build"  # absolute: rebuilt anywhere
    sim = json.loads(_cli(tmp_path, "simulate", "plan.json", "--json").stdout)
    assert sim["latency_s"] > 0
    for backend in ("local", "distributed"):  # each rank builds the module from the file, seed 0
        run = json.loads(_cli(tmp_path, "execute", "plan.json", "--backend", backend, "--images", "2", "--json").stdout)
        assert run["max_abs_error"] <= 1e-5 * max(1.0, run["ref_max_abs"]), backend
    train = ["train", f"model.name={spec}", "model.input=48", "env.partition=stages", "episodes=5"]
    _cli(tmp_path, *train, f"hydra.run.dir={tmp_path / 'run'}")
    trained = json.loads((tmp_path / "run" / "export" / "plan.json").read_text())
    assert trained["model"] == plan["model"] | {"input": [3, 48, 48]}


def test_a_factory_that_fails_or_returns_no_module_is_one_line(tmp_path: Path):
    (tmp_path / "bad.py").write_text("def boom():\n    raise KeyError('width')\n\ndef three():\n    return 3\n")
    with pytest.raises(UnsupportedModelError, match=r"^model: '.*bad.py:boom' failed \(KeyError: 'width'\)$"):
        build_model(f"{tmp_path / 'bad.py'}:boom")
    with pytest.raises(UnsupportedModelError, match=r"returned int, not a torch.nn.Module$"):
        build_model(f"{tmp_path / 'bad.py'}:three", meta=True)
