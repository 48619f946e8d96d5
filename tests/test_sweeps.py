"""Sweeps and launchers: an Optuna sweep, jobs through the submitit local launcher and through the
Ray launcher on a local Ray cluster (started by the launcher for the test, 2 CPUs), each job's
``command.txt`` re-running that job alone, and ``splitgym report`` over a sweep folder."""

from __future__ import annotations

import csv
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from splitgym.experiments.cli import main as cli_main

SPLITGYM = str(Path(sys.executable).parent / "splitgym")
TINY = ["experiment=smoke", "episodes=10", "progress=false", "eval.every=0"]


def _multirun(sweep: Path, *overrides: str, timeout: int = 400) -> subprocess.CompletedProcess:
    cmd = [SPLITGYM, "train", "-m", *TINY, *overrides, f"hydra.sweep.dir={sweep}"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def _objectives(sweep: Path) -> dict[str, float]:
    return {p.parent.parent.name: json.loads(p.read_text())["objective"] for p in sweep.glob("*/export/summary.json")}


def _fake_job(root: Path, name: str, overrides: list[str], summary: dict | None) -> None:
    job = root / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if summary is not None:
        (job / "export").mkdir()
        (job / "export" / "summary.json").write_text(json.dumps(summary))


def test_report_tabulates_every_job(tmp_path: Path, capsys: pytest.CaptureFixture):
    for k, lr in enumerate(["1e-4", "1e-3", "1e-2"]):
        summary = {"objective": 100.0 + k, "latency_ms": {"learned_plan": 10.0 - k}, "episodes": 10, "wall_s": 1.5}
        _fake_job(tmp_path, str(k), ["experiment=smoke", f"agent.kwargs.learning_rate={lr}"], summary)
    _fake_job(tmp_path, "10", ["experiment=smoke", "agent.kwargs.learning_rate=1"], None)  # crashed
    _fake_job(tmp_path / ".submitit", "0", ["x=1"], {"objective": 5.0})  # launcher's own folder: not a job
    assert cli_main(["report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "every job: experiment=smoke"
    assert "agent.kwargs.learning_rate" in lines[1] and "latency_ms.learned_plan" in lines[1]
    body = lines[3:7]
    assert [ln.split()[0] for ln in body] == ["0", "1", "2", "10"]  # numeric job order
    assert body[-1].rstrip().endswith("no export/summary.json")
    with (tmp_path / "report.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["objective"]) for r in rows[:3]] == [100.0, 101.0, 102.0] and rows[3]["objective"] == ""
    assert rows[1]["latency_ms.learned_plan"] == "9.0" and rows[2]["agent.kwargs.learning_rate"] == "1e-2"
    assert (tmp_path / "report.png").stat().st_size > 1000


def test_report_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert cli_main(["report", str(tmp_path / "missing")]) == 2
    assert cli_main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no such folder" in err[0] and "not a multirun folder" in err[1]


@pytest.mark.slow
@pytest.mark.sweeps
def test_optuna_sweep_and_report(tmp_path: Path, capsys: pytest.CaptureFixture):
    sweep = tmp_path / "optuna"
    _multirun(
        sweep,
        "hydra/sweeper=optuna",
        "hydra.sweeper.direction=maximize",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.n_jobs=1",
        "hydra.sweeper.sampler.seed=0",
        "agent.kwargs.learning_rate=tag(log,interval(1e-5,1e-3))",
    )
    objectives = _objectives(sweep)
    assert sorted(objectives) == ["0", "1", "2"]
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(objectives.values()))
    rates = {float(_overrides(sweep / j)["agent.kwargs.learning_rate"]) for j in objectives}
    assert len(rates) == 3 and all(1e-5 <= r <= 1e-3 for r in rates)  # Optuna chose each trial's value
    assert cli_main(["report", str(sweep)]) == 0
    table = capsys.readouterr().out
    assert "agent.kwargs.learning_rate" in table and len(table.strip().splitlines()) == 1 + 2 + 3 + 1


def _overrides(job: Path) -> dict[str, str]:
    return dict(o.split("=", 1) for o in yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()))


def _rerun_matches(job: Path, tmp_path: Path) -> None:
    """The job's command.txt re-runs that job alone: same config, same result."""
    words = shlex.split((job / "command.txt").read_text())
    assert words[:2] == ["splitgym", "train"] and "-m" not in words and "--multirun" not in words
    again = tmp_path / f"again-{job.parent.name}-{job.name}"
    res = subprocess.run([SPLITGYM, *words[1:], f"hydra.run.dir={again}"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (again / "config.yaml").read_text() == (job / "config.yaml").read_text()
    ran = json.loads((again / "export" / "summary.json").read_text())
    assert ran["objective"] == json.loads((job / "export" / "summary.json").read_text())["objective"]


@pytest.mark.slow
@pytest.mark.sweeps
def test_submitit_local_launcher_and_command_txt(tmp_path: Path):
    sweep = tmp_path / "submitit"
    _multirun(
        sweep,
        "seed=0,1",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=5",
        "hydra.launcher.cpus_per_task=1",
    )
    assert sorted(_objectives(sweep)) == ["0", "1"]
    assert _overrides(sweep / "1")["seed"] == "1"
    _rerun_matches(sweep / "1", tmp_path)


@pytest.mark.slow
@pytest.mark.sweeps
def test_ray_launcher_on_a_local_cluster(tmp_path: Path):
    sweep = tmp_path / "ray"
    res = _multirun(
        sweep,
        "seed=0,1",
        "hydra/launcher=ray",
        "+hydra.launcher.ray.init.num_cpus=2",  # a local cluster of 2 CPUs, shut down after the sweep
        "+hydra.launcher.ray.init.include_dashboard=false",
        "+hydra.launcher.ray.init.object_store_memory=100000000",  # 100 MB: the jobs pass no data
        "+hydra.launcher.ray.remote.num_cpus=1",
    )
    assert "_run_job pid=" in res.stdout + res.stderr  # the jobs ran as Ray tasks
    assert sorted(_objectives(sweep)) == ["0", "1"]
    _rerun_matches(sweep / "0", tmp_path)
