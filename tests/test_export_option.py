"""``export.actor`` (conf/train.yaml): off, a run writes no ``actor.pt2`` and still its plan and
summary, and ``splitgym evaluate`` runs the checkpoint's best policy; on, the exported program
computes what the policy in memory computes (the summary rolls out the latter)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_module
from stable_baselines3 import DDPG

from splitgym.agents.evaluate import evaluate
from splitgym.agents.export import eager_policy, export_actor, exported_policy
from splitgym.agents.train import train
from splitgym.costmodels.errors import ConfigError
from splitgym.envs.distredge import DistrEdgeEnv
from splitgym.envs.scenarios import Scenario


def _cfg(*overrides: str):
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        return compose(config_name="train", overrides=["experiment=smoke", "eval.every=0", "episodes=6", *overrides])


@pytest.mark.slow  # a training run, then evaluate loads SB3's checkpoint: ~6-12 s
def test_actor_export_off_writes_no_actor_and_evaluate_runs_the_checkpoint(tmp_path: Path):
    run = tmp_path / "off"
    train(_cfg("export.actor=false"), run)
    assert not (run / "export" / "actor.pt2").exists() and not (run / "export" / "actor.pt2.sig.json").exists()
    summary = json.loads((run / "export" / "summary.json").read_text())
    assert summary["export_actor"] is False and summary["episodes"] == 6
    assert (run / "export" / "plan.json").exists()
    res = evaluate(run)
    assert res["actor"]["from"].startswith("checkpoints/")
    assert res["actor"]["latency_ms"] == pytest.approx(summary["latency_ms"]["actor_deterministic"], rel=1e-12)
    assert res["plan"]["latency_ms"] == pytest.approx(summary["latency_ms"]["learned_plan"], rel=1e-9)


def test_actor_export_on_is_the_default_and_writes_the_actor(tmp_path: Path):
    run = tmp_path / "on"
    summary = train(_cfg(), run)
    assert summary["export_actor"] is True and (run / "export" / "actor.pt2").exists()


def test_exported_actor_computes_what_the_policy_in_memory_computes(tmp_path: Path):
    env = DistrEdgeEnv(Scenario("t", "vgg11", 64, "DB", "bw300", partition="stages"))
    model = DDPG("MlpPolicy", env, seed=1, policy_kwargs={"net_arch": [32, 16]})
    exported = exported_policy(export_actor(model.policy, env, tmp_path / "actor.pt2"))
    eager = eager_policy(model.policy, env)
    rng = np.random.default_rng(1)
    states = (rng.uniform(0, 1.2, (20, env.N + 4)) * env.obs_scale).astype(np.float32)  # some past OBS_HIGH
    actions = np.stack([eager(s) for s in states])
    assert len({tuple(np.round(a, 6)) for a in actions}) > 1
    for s, a in zip(states, actions, strict=True):
        assert torch.equal(torch.as_tensor(exported(s)), torch.as_tensor(a))  # bit for bit: same aten ops


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("export.actor=maybe",), "export.actor: must be true or false, got 'maybe'"),
        (("+export.format=pt2",), "export.format: unknown setting (known: actor)"),
        (("export=7",), "export: expected a mapping with the key actor, got 7"),
        (
            ("env=msmdi", "agent=ppo", "export.actor=false"),
            "export.actor: splitgym/MSMDI-v0 exports its SB3 policy (policy.zip), not an actor; got false",
        ),
    ],
)
def test_bad_export_settings_are_one_line(tmp_path: Path, overrides: tuple[str, ...], message: str):
    with pytest.raises(ConfigError) as err:
        train(_cfg(*overrides), tmp_path / "bad")
    assert str(err.value) == message
    assert not (tmp_path / "bad" / "config.yaml").exists()  # refused before anything is written
