"""rl-zoo3 fits: the shipped hyperparameter files cover every env and algorithm the README uses, the
paper's DDPG settings (epsilon-Gaussian noise, the critic's own rate) load through a callback the
zoo imports by name, and (slow) the zoo trains and enjoys every env."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from stable_baselines3 import DDPG

from splitgym.agents.noise import EpsilonGaussianNoise
from splitgym.agents.zoo_callbacks import DistrEdgeDDPGSettings, PinnedRate
from splitgym.envs import ENV_IDS
from splitgym.envs.distredge import DistrEdgeEnv

ZOO = Path(__file__).resolve().parents[1] / "experiments" / "zoo"
BOX_ENVS = {
    "splitgym/DistrEdge-v0",
    "splitgym/DistrEdge-v1",
    "splitgym/NPTP-v0",
}  # MS-MDI's action is MultiDiscrete: PPO only
SMALL = {"model": "vgg11", "input": 64, "partition": "stages"}


def _file(algo: str) -> dict:
    return yaml.safe_load((ZOO / f"{algo}.yml").read_text())


@pytest.mark.parametrize(("algo", "envs"), [("ddpg", BOX_ENVS), ("td3", BOX_ENVS), ("ppo", set(ENV_IDS))])
def test_zoo_files_cover_the_readme_algorithms_and_their_callbacks_load(algo: str, envs: set[str]):
    from rl_zoo3.utils import get_callback_list

    hyper = _file(algo)
    assert set(hyper) == envs
    for params in hyper.values():
        assert params["n_timesteps"] > 0 and params["policy"] == "MlpPolicy"
        callbacks = get_callback_list(params)  # what the zoo does with the "callback" key
        assert [type(c) for c in callbacks] == ([DistrEdgeDDPGSettings] if algo != "ppo" else [])
    if algo == "ddpg":  # the paper's rates: 1e-4 actor, 1e-3 critic (DE L246)
        de = hyper["splitgym/DistrEdge-v0"]
        settings = de["callback"][0]["splitgym.agents.zoo_callbacks.DistrEdgeDDPGSettings"]
        assert (de["learning_rate"], settings["critic_learning_rate"]) == (1e-4, 1e-3)


def test_ddpg_settings_install_the_noise_and_pin_the_critic_rate(tmp_path: Path):
    env = DistrEdgeEnv(**SMALL)
    model = DDPG("MlpPolicy", env, 1e-4, learning_starts=8, batch_size=8, seed=0, policy_kwargs={"net_arch": [16]})
    model.learn(40, callback=DistrEdgeDDPGSettings(critic_learning_rate=1e-3, variance=0.1, decay=0.004))
    assert isinstance(model.action_noise, EpsilonGaussianNoise) and model.action_noise.episode >= 40 // env.L - 1
    assert [g["lr"] for g in model.actor.optimizer.param_groups] == [1e-4]
    assert [g["lr"] for g in model.critic.optimizer.param_groups] == [1e-3]  # SB3 wrote 1e-4 before each update
    assert all(isinstance(g, PinnedRate) for g in model.critic.optimizer.param_groups)
    model.save(tmp_path / "m.zip")  # the zoo saves the model: nothing unpicklable was attached
    assert DDPG.load(tmp_path / "m.zip").actor is not None


def _zoo(cwd: Path, module: str, algo: str, env_id: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", f"rl_zoo3.{module}", "--algo", algo, "--env", env_id, "--gym-packages"]
    cmd += ["splitgym.envs", "-f", "logs", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=cwd, env=os.environ.copy())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("algo", "env_id", "kwargs", "shows"),
    [
        ("ddpg", "splitgym/DistrEdge-v0", ["model:'vgg11'", "input:64", "partition:'stages'"], "volume"),
        ("td3", "splitgym/NPTP-v0", ["model:'vgg11'", "input:64"], "device"),
        ("ppo", "splitgym/MSMDI-v0", ["images:(20,20)"], "worker"),
    ],
)
def test_zoo_trains_and_enjoys_every_env(tmp_path: Path, algo: str, env_id: str, kwargs: list[str], shows: str):
    conf = str(ZOO / f"{algo}.yml")
    res = _zoo(
        tmp_path, "train", algo, env_id, "--conf-file", conf, "-n", "300", "--seed", "0", "--env-kwargs", *kwargs
    )
    assert res.returncode == 0, res.stderr[-3000:]
    saved = list((tmp_path / "logs" / algo).glob("*/*.zip"))
    assert len(saved) == 1
    res = _zoo(tmp_path, "enjoy", algo, env_id, "-n", "100")  # renders (render_mode="human") by default
    assert res.returncode == 0, res.stderr[-3000:]
    assert shows in res.stdout  # the plan as text
