"""``splitgym benchmark RUN --split <family>/test`` on trained NPTP-v1 and HiDP-v0 runs (trained
on the family's train split): the CSV holds the policy's rows, replayable from the run's files;
a run of another env or observation is refused in one line."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from stable_baselines3 import PPO

from splitgym.agents.bench_adapters import load_policy
from splitgym.agents.benchmark import run_benchmark
from splitgym.costmodels.errors import SplitgymError
from splitgym.envs.msmdi_v1 import MSMDIEnvV1
from splitgym.envs.splits import get_split

CLI = str(Path(sys.executable).parent / "splitgym")
TINY = ["agent=ppo", "agent.kwargs.n_epochs=1", "agent.kwargs.policy_kwargs.net_arch={pi:[8],vf:[8]}", "eval.every=0"]


def _fixture_run(folder: Path, env_id: str) -> Path:
    """An untrained tiny PPO on MSMDI-v1's split env saved as a run folder labelled ``env_id``."""
    model = PPO(
        "MlpPolicy", MSMDIEnvV1(split="msmdi-v1/test"), n_steps=8, batch_size=8, policy_kwargs={"net_arch": [4]}
    )
    (folder / "export").mkdir(parents=True)
    model.save(folder / "export" / "policy.zip")
    cfg = {"seed": 3, "episodes": 2, "agent": {"algo": "ppo"}, "env": {"id": env_id}}
    OmegaConf.save(OmegaConf.create(cfg), folder / "config.yaml")
    return folder


def test_a_run_of_another_env_is_refused_in_one_line(tmp_path: Path):
    _fixture_run(tmp_path / "run", "splitgym/HiDP-v0")
    with pytest.raises(SplitgymError) as err:
        run_benchmark([str(tmp_path)], "msmdi-v1/test", instances=[0])
    assert str(err.value) == (
        f"run {tmp_path / 'run'}: trained on env.id=splitgym/HiDP-v0, the split msmdi-v1/test is of splitgym/MSMDI-v1"
    )


def test_a_fixture_policy_plays_its_own_split_and_refuses_another_observation(tmp_path: Path):
    run = _fixture_run(tmp_path / "run", "splitgym/MSMDI-v1")
    res = run_benchmark([str(tmp_path)], "msmdi-v1/test", instances=[0, 1])
    names = [i.name for i in get_split("msmdi-v1/test").instances[:2]]
    assert [r["instance"] for r in res["rows"]] == names and {r["seed"] for r in res["rows"]} == {3}
    act = load_policy(run, "ppo")
    with pytest.raises(SplitgymError, match=r"its policy observes shape \(\d+,\), the split's env gives \(3,\)"):
        act(np.zeros(3, dtype=np.float32))


def _train_and_bench(tmp_path: Path, train: list[str], split: str) -> tuple[Path, list[dict[str, str]]]:
    run = tmp_path / "runs" / "run"
    subprocess.run([CLI, "train", *TINY, *train, f"hydra.run.dir={run}"], check=True, capture_output=True)
    out = tmp_path / "bench"
    cmd = [CLI, "benchmark", str(run.parent), "--split", split, "--instances", "0,1", "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    with open(out / "benchmark.csv") as f:
        rows = list(csv.DictReader(f))
    names = [i.name for i in get_split(split).instances[:2]]
    assert [r["instance"] for r in rows] == names and {r["target"] for r in rows} == {str(run.parent)}
    assert {r["seed"] for r in rows} == {str(OmegaConf.load(run / "config.yaml").seed)}  # the run's own seed
    return run, rows


def _replay(env, act, index: int) -> float:
    obs, _ = env.reset(options={"instance": index})
    done, info = False, {}
    while not done:
        obs, _, term, trunc, info = env.step(act(obs))
        done = term or trunc
    return float(info["latency"])


@pytest.mark.slow
def test_nptp_v1_run_on_its_train_split_benchmarks_on_the_test_split(tmp_path: Path):
    train = ["env=nptp", "env.id=splitgym/NPTP-v1", "env.split=nptp-v1/train", "episodes=8"]
    run, rows = _train_and_bench(
        tmp_path, [*train, "agent.kwargs.n_steps=16", "agent.kwargs.batch_size=8"], "nptp-v1/test"
    )
    assert (run / "export" / "policy.zip.sig.json").exists()  # signed, as MSMDI's
    from splitgym.envs.nptp_v1 import NPTPv1Env

    env, act = NPTPv1Env(split="nptp-v1/test"), load_policy(run, "ppo")
    for j, row in enumerate(rows):
        assert float(row["latency_ms"]) == pytest.approx(_replay(env, act, j) * 1e3)


@pytest.mark.slow
def test_hidp_run_on_its_train_split_plays_its_own_menu_on_the_test_split(tmp_path: Path):
    train = ["env=hidp", "env.split=hidp-v0/train", "env.menu=templates", "env.eval_episodes=1", "episodes=3"]
    run, rows = _train_and_bench(
        tmp_path, [*train, "agent.kwargs.n_steps=32", "agent.kwargs.batch_size=16"], "hidp-v0/test"
    )
    from splitgym.envs.hidp_env import HiDPEnv
    from splitgym.envs.hidp_streams import template_menu

    env, act = HiDPEnv(split="hidp-v0/test", menu=template_menu), load_policy(run, "ppo")  # the run's menu
    for j, row in enumerate(rows):
        assert float(row["latency_ms"]) == pytest.approx(_replay(env, act, j) * 1e3)
