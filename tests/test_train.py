"""Training through the Hydra app: configs, a smoke run, export/evaluate, resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest
from hydra import compose, initialize_config_module

from splitgym.agents.algos import ALGOS
from splitgym.agents.evaluate import evaluate, find_run
from splitgym.agents.tasks import TASKS, get_task
from splitgym.costmodels.errors import ConfigError, SplitgymError
from splitgym.costmodels.plan import load_plan
from splitgym.envs import ENV_IDS

TRAIN = [sys.executable, "-m", "splitgym.agents.train"]


def _run(run_dir: Path, *overrides: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TRAIN, "experiment=smoke", f"hydra.run.dir={run_dir}", *overrides],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )


def test_configs_compose_for_every_agent_and_group():
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        cfg = compose(config_name="train")
        # DistrEdge's hyper-parameters (DE L246)
        assert cfg.agent.algo == "ddpg" and cfg.episodes == 4000
        k = cfg.agent.kwargs
        assert (k.learning_rate, k.critic_learning_rate, k.batch_size, k.gamma) == (1e-4, 1e-3, 64, 0.99)
        assert list(k.policy_kwargs.net_arch.pi) == [400, 200, 100]
        assert list(k.policy_kwargs.net_arch.qf) == [400, 200, 100, 100]
        assert cfg.agent.noise.variance == 0.1 and cfg.agent.noise.decay == pytest.approx(1 / 250)
        for algo in ALGOS:
            assert compose(config_name="train", overrides=[f"agent={algo}"]).agent.algo == algo
        for group in ("DA", "DB", "DC", "LA"):
            assert compose(config_name="train", overrides=[f"devices={group}"]).devices.name == group
        smoke = compose(config_name="train", overrides=["experiment=smoke"])
        assert smoke.episodes == 40 and smoke.model.name == "vgg11" and smoke.model.input == 64


def test_every_training_task_names_a_registered_env_and_unknown_ids_fail_in_one_line():
    assert "splitgym/DistrEdge-v0" in TASKS
    registered = {i for i in gym.registry if i.startswith("splitgym/")}
    assert set(TASKS) <= registered and set(ENV_IDS) <= registered
    with pytest.raises(ConfigError, match=r"env.id: no training task for 'splitgym/Nope-v0' \(known: "):
        get_task("splitgym/Nope-v0")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "smoke"
    res = _run(run)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "learned_plan" in res.stdout
    return run


def test_smoke_run_writes_everything(smoke_run: Path):
    for name in (
        "config.yaml",
        "command.txt",
        "checkpoints/model.zip",
        "checkpoints/replay_buffer.pkl",
        "checkpoints/best.json",
        "export/plan.json",
        "export/actor.pt2",
        "export/summary.json",
    ):
        assert (smoke_run / name).exists(), name
    assert list((smoke_run / "tb").glob("events.out.tfevents.*")), "no TensorBoard events"
    header = (smoke_run / "tb" / "progress.csv").read_text().splitlines()[0]
    for tag in ("charts/episode_latency_ms", "charts/best_ips", "train/critic_loss", "time/fps"):
        assert tag in header
    summary = json.loads((smoke_run / "export" / "summary.json").read_text())
    assert summary["episodes"] == 40 and summary["algo"] == "ddpg"
    best = json.loads((smoke_run / "checkpoints" / "best.json").read_text())
    assert summary["latency_ms"]["learned_plan"] <= best["best_latency"] * 1e3 + 1e-9
    assert summary["latency_ms"]["learned_plan"] <= min(best["latencies"]) * 1e3 + 1e-9


def test_export_evaluate_round_trip(smoke_run: Path):
    res = evaluate(smoke_run)
    summary = json.loads((smoke_run / "export" / "summary.json").read_text())
    assert res["plan"]["latency_ms"] == pytest.approx(summary["latency_ms"]["learned_plan"], rel=1e-9)
    assert res["actor"]["latency_ms"] == pytest.approx(summary["latency_ms"]["actor_deterministic"], rel=1e-9)
    load_plan(smoke_run / "export" / "plan.json")
    assert find_run(smoke_run.parent) == smoke_run  # a folder of runs: the latest


def test_evaluate_errors_name_the_path(tmp_path: Path, smoke_run: Path):
    with pytest.raises(SplitgymError, match="no such folder"):
        evaluate(tmp_path / "missing")
    with pytest.raises(SplitgymError, match="no finished run"):
        evaluate(tmp_path)
    broken = tmp_path / "broken"
    (broken / "export").mkdir(parents=True)
    (broken / "export" / "plan.json").write_text((smoke_run / "export" / "plan.json").read_text())
    with pytest.raises(SplitgymError, match="missing config.yaml"):
        evaluate(broken)


def test_resume_continues_from_checkpoint(tmp_path: Path):
    run = tmp_path / "resume"
    assert _run(run, "episodes=20").returncode == 0
    first = json.loads((run / "checkpoints" / "progress.json").read_text())
    assert first["episodes"] == 20
    res = _run(run, "episodes=40", "resume=true")
    assert res.returncode == 0, res.stderr[-2000:]
    after = json.loads((run / "checkpoints" / "progress.json").read_text())
    assert after["episodes"] == 40 and after["num_timesteps"] == 2 * first["num_timesteps"]
    bad = _run(tmp_path / "fresh", "resume=true")
    assert bad.returncode == 2 and "no checkpoint" in bad.stderr


@pytest.mark.slow
def test_killed_run_resumes(tmp_path: Path):
    run = tmp_path / "killed"
    proc = subprocess.Popen(
        [*TRAIN, "experiment=smoke", f"hydra.run.dir={run}", "episodes=3000", "checkpoint_every=50"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    progress = run / "checkpoints" / "progress.json"
    deadline = time.time() + 240
    while time.time() < deadline and not (progress.exists() and json.loads(progress.read_text())["episodes"] >= 100):
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = json.loads(progress.read_text())["episodes"]
    assert 100 <= done < 3000
    res = _run(run, "episodes=" + str(done + 30), "resume=true")
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(progress.read_text())["episodes"] == done + 30


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_multirun_over_seeds(tmp_path: Path, launcher: str):
    # through the console command, as a user types it
    cmd = [
        str(Path(sys.executable).parent / "splitgym"),
        "train",
        "-m",
        "experiment=smoke",
        "seed=0,1",
        "episodes=10",
        f"hydra/launcher={launcher}",
        f"hydra.sweep.dir={tmp_path}",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert len(list(tmp_path.glob("*/export/plan.json"))) == 2


@pytest.mark.slow
def test_ddpg_quality_bar_on_db_300(tmp_path: Path):
    """Issue quality bar: on DB at 300 Mbps (VGG-16, Xavier x2 + Nano x2, derived) the trained
    plan is at least as fast as the equal split and within 10% of the best classical plan."""
    run = tmp_path / "db300"
    res = subprocess.run(
        [*TRAIN, f"hydra.run.dir={run}", "devices=DB", "network=bw300", "seed=0"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    s = json.loads((run / "export" / "summary.json").read_text())
    learned = s["ips"]["learned_plan"]
    best_classical = 1e3 / s["classical_latency_ms"][s["best_classical"]]
    assert learned >= s["ips"]["equal"]
    assert learned >= 0.9 * best_classical
    assert s["episodes"] == 4000


@pytest.mark.slow
def test_ours_variant_beats_every_classical_planner_on_nanos_nc(tmp_path: Path):
    """Issue quality bar where the paper variant fails (four Nanos, NC; Eq. 9 + a = 0.75 reach
    0.86x DeeperThings): the share action, the partition pilot and the warm start
    (distredge_tables' ``ours`` variant) give a trained plan at least as fast as every classical
    planner on the same cost model, within 600 episodes."""
    from splitgym.experiments.distredge_tables import VARIANTS

    run = tmp_path / "nc"
    res = subprocess.run(
        [*TRAIN, f"hydra.run.dir={run}", "devices=all-nano", "network=NC", "seed=0", "episodes=600", *VARIANTS["ours"]],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    s = json.loads((run / "export" / "summary.json").read_text())
    assert s["latency_ms"]["learned_plan"] <= min(s["classical_latency_ms"].values())
    assert s["speedup_vs_best_classical"] >= 1.0


@pytest.mark.slow
def test_ddpg_within_5_percent_of_the_exact_optimum_on_a_small_case(tmp_path: Path):
    """Issue quality bar: where the exhaustive search covers every row (VGG-11 at 64, group DB at
    300 Mbps, volumes 0-6 and 7-12: 1,650 plans), DDPG's plan lies in that space, so it cannot beat
    the optimum, and after 600 episodes it is within 5% of it (measured: 2.13 vs 2.128 ms)."""
    from splitgym.agents.planners.volumes.exact import plan_exact
    from splitgym.costmodels.cluster import Cluster
    from splitgym.costmodels.graph import ModelGraph

    exact = plan_exact(
        ModelGraph.from_torchvision("vgg11", 64), Cluster.from_config("DB", "bw300"), partition="0,7", grid=0
    )
    assert exact.meta["candidates"] == 1650
    run = tmp_path / "small"
    assert _run(run, "episodes=600", 'env.partition="0,7"').returncode == 0
    learned = json.loads((run / "export" / "summary.json").read_text())["latency_ms"]["learned_plan"] / 1e3
    optimum = exact.meta["latency_s"]
    assert optimum <= learned + 1e-12
    assert learned <= 1.05 * optimum


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_saves_and_exports(tmp_path: Path, sig: int):
    # started like a background job of a script, where SIGINT is ignored unless the app handles it
    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    run = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [*TRAIN, "experiment=smoke", f"hydra.run.dir={run}", "episodes=5000", "checkpoint_every=50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore_sigint,
    )
    progress = run / "checkpoints" / "progress.json"
    deadline = time.time() + 240
    while time.time() < deadline and not progress.exists():
        time.sleep(0.5)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    summary = json.loads((run / "export" / "summary.json").read_text())
    assert summary["interrupted"] is True and 50 <= summary["episodes"] < 5000
    assert json.loads(progress.read_text())["episodes"] == summary["episodes"]
