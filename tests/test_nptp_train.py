"""Training NPTP-v0 through the Hydra app (``splitgym train env=nptp``): a smoke run, its export
and its evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_module

from splitgym.agents.evaluate import evaluate
from splitgym.agents.tasks import TASKS
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import load_plan
from splitgym.costmodels.tiles.tile_cost import score_tiles


def test_nptp_config_composes_and_has_a_task():
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        cfg = compose(config_name="train", overrides=["env=nptp", "agent=ppo"])
    assert cfg.env.id == "splitgym/NPTP-v0" and cfg.env.devices is None
    assert cfg.devices.name == "nptp3" and cfg.network.bandwidth_mbps == 4.0  # the env picks its groups
    assert cfg.env.id in TASKS


def test_train_ppo_on_nptp_smoke(tmp_path, capsys):
    """The Hydra app's train() in this process (the CLI entry point is the same function)."""
    from splitgym.agents.train import train

    run = tmp_path / "run"
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        cfg = compose(
            config_name="train",
            overrides=[
                "env=nptp",
                "agent=ppo",
                "episodes=50",
                "agent.kwargs.n_steps=64",
                "model=vgg11",
                "model.input=64",
                "env.mpa_iterations=40",
                "env.strips_grid=8",
            ],
        )
    summary = train(cfg, run)
    TASKS[cfg.env.id].report(summary, run)
    assert "coedge-strips" in capsys.readouterr().out
    on_disk = json.loads((run / "export" / "summary.json").read_text())
    assert on_disk["latency_ms"] == summary["latency_ms"]
    plan = load_plan(run / "export" / "plan.json")
    g = ModelGraph.from_torchvision("vgg11", 64)
    s = score_tiles(g, rects=plan)
    assert summary["episodes"] >= 50 and summary["feasible"] == s.feasible
    assert summary["latency_ms"] >= s.latency * 1e3 - 1e-6  # penalised latency >= model latency
    assert evaluate(run)["plan"]["latency_ms"] == s.latency * 1e3


@pytest.mark.slow
def test_splitgym_train_env_nptp_command(tmp_path):
    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "splitgym.agents.train",
        "env=nptp",
        "agent=ppo",
        "episodes=50",
        "model=vgg11",
        "model.input=64",
        "env.mpa_iterations=40",
        "env.strips_grid=8",
        f"hydra.run.dir={run}",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=os.environ.copy())
    assert res.returncode == 0, res.stderr[-2000:]
    assert (run / "export" / "plan.json").exists() and "learned" in res.stdout
