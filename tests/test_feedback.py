"""Feedback and polish: ``splitgym --version``, one-line errors where torch.fx printed tracebacks,
the exported actor taking a batch, and the training progress bar."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_module
from stable_baselines3 import DDPG

from splitgym.agents.export import export_actor, exported_policy
from splitgym.agents.train import train
from splitgym.costmodels.errors import ConfigError
from splitgym.envs.distredge import DistrEdgeEnv
from splitgym.envs.scenarios import Scenario
from splitgym.experiments.cli import main as cli_main


def test_version(capsys: pytest.CaptureFixture):
    assert cli_main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"splitgym {version('splitgym')}"


def test_too_small_input_is_one_line_without_fx_traceback(capfd: pytest.CaptureFixture):
    # capfd: ShapeProp printed its traceback to the process's stderr, which is what a user sees
    assert cli_main(["graph", "vgg16", "--input", "8"]) == 2
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1, err
    assert lines[0].startswith("splitgym graph: error: input: model vgg16 does not accept an input of shape (3, 8, 8)")
    assert "Output size is too small" in lines[0] and "ShapeProp" not in lines[0]


def test_exported_actor_takes_a_batch(tmp_path: Path):
    env = DistrEdgeEnv(Scenario("t", "vgg11", 64, "DB", "bw300", partition="stages"))
    model = DDPG("MlpPolicy", env, seed=0, policy_kwargs={"net_arch": [16, 16]})
    path = export_actor(model.policy, env, tmp_path / "actor.pt2")
    actor = torch.export.load(str(path)).module()
    rng = np.random.default_rng(0)
    states = torch.as_tensor(rng.uniform(0, 1, (7, env.N + 4)) * env.obs_scale, dtype=torch.float32)
    with torch.no_grad():
        batch = actor(states).numpy()
    assert batch.shape == (7, env.N - 1) and np.all(np.abs(batch) <= 1)
    one = exported_policy(path)  # the batch-1 path the env rollout uses
    for k in (0, 3, 6):
        np.testing.assert_allclose(batch[k], one(states[k].numpy()), rtol=1e-5, atol=1e-6)
    assert len({tuple(np.round(r, 6)) for r in batch}) > 1  # the rows are really different states


def _cfg(*overrides: str):
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        return compose(config_name="train", overrides=["experiment=smoke", "eval.every=0", *overrides])


def test_training_progress_bar_counts_episodes(tmp_path: Path, capsys: pytest.CaptureFixture):
    train(_cfg("episodes=12", "progress=true"), tmp_path / "run")
    err = capsys.readouterr().err
    assert "train: 100%" in err and "12/12" in err and "best_ms=" in err
    train(_cfg("episodes=3", "progress=false"), tmp_path / "quiet")
    assert "train:" not in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"^progress: must be true, false or auto, got 'maybe'$"):
        train(_cfg("progress=maybe"), tmp_path / "bad")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("episodes=abc", "episodes: must be an integer >= 1, got 'abc'"),
        ("eval.every=-5", "eval.every: must be an integer >= 0, got -5"),
        ("log_interval=2.5", "log_interval: must be an integer >= 1, got 2.5"),
    ],
)
def test_bad_counts_are_one_line(tmp_path: Path, override: str, message: str):
    with pytest.raises(ConfigError) as err:
        train(_cfg(override), tmp_path / "bad")
    assert str(err.value) == message
