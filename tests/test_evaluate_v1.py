"""splitgym evaluate on a DistrEdge-v1 run: the exported policy per instance of its own source or
of a named split, next to the classical planners; options a run cannot take refused in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from splitgym.agents.evaluate import evaluate
from splitgym.agents.tasks.distredge_v1_eval import eval_env
from splitgym.costmodels.errors import SplitgymError
from splitgym.envs.splits import get_split
from splitgym.experiments.cli import main

SPLIT = "distredge-v1/val"


def _cfg(**env) -> OmegaConf:
    base = {"id": "splitgym/DistrEdge-v1", "split": SPLIT, "instance": None, "distribution": None}
    env = {**base, "max_devices": None, "reward": "relative", **env}
    return OmegaConf.create({"env": env, "agent": {"algo": "td3"}})


def _fake_run(path: Path, env_id: str) -> Path:
    (path / "export").mkdir(parents=True)
    (path / "export" / "summary.json").write_text("{}")
    OmegaConf.save(OmegaConf.create({"env": {"id": env_id}}), path / "config.yaml")
    return path


def test_options_a_run_cannot_take_are_one_line(tmp_path: Path):
    run = _fake_run(tmp_path / "v0", "splitgym/DistrEdge-v0")
    with pytest.raises(SplitgymError, match=r"^--split: not an option for a splitgym/DistrEdge-v0 run \(.*v0\)$"):
        evaluate(run, split=SPLIT)
    with pytest.raises(SplitgymError, match=r"^--seeds: not an option for a splitgym/MSMDI-v0 run"):
        evaluate(_fake_run(tmp_path / "mdi", "splitgym/MSMDI-v0"), seeds=3)


def test_a_split_wider_than_the_policy_or_of_another_env_is_refused(tmp_path: Path):
    cfg = _cfg(instance=1, max_devices=3)  # val[1] has 3 devices; val has instances of up to 5
    assert eval_env(tmp_path, cfg, None).M == 3
    with pytest.raises(SplitgymError, match=r"^--split: distredge-v1/val has instances of 5 devices, the policy"):
        eval_env(tmp_path, cfg, SPLIT)
    with pytest.raises(SplitgymError, match=r"^split: unknown split 'nptp-v1/nope'"):
        eval_env(tmp_path, _cfg(), "nptp-v1/nope")


@pytest.fixture(scope="module")
def specialist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("v1") / "run"
    cli = str(Path(sys.executable).parent / "splitgym")
    subprocess.run(
        [cli, "train", "env=distredge_v1", f"env.split={SPLIT}", "env.instance=1", "episodes=12", "eval.every=0",
         "agent.kwargs.learning_starts=8", f"hydra.run.dir={run}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return run


@pytest.mark.slow
def test_evaluate_plays_the_runs_instance_then_a_named_split(specialist: Path, capsys: pytest.CaptureFixture[str]):
    own = evaluate(specialist)
    summary = json.loads((specialist / "export" / "summary.json").read_text())
    (name, exported), *_ = summary["instances"].items()
    assert [r["instance"] for r in own["rows"]] == [name]  # a specialist: its one instance
    row = own["instances"][0]
    assert row["learned_ms"] == pytest.approx(exported["latency_ms"])  # the export's own rollout
    assert row["equal_ms"] / row["learned_ms"] == pytest.approx(exported["vs_equal"])
    assert row["best_classical_ms"] == min(row["classical_ms"].values())
    drawn = evaluate(specialist, seeds=3)  # three draws of a one-instance source: the same episode
    assert len({r["learned_ms"] for r in drawn["rows"]}) == 1 and len(drawn["rows"]) == 3
    assert main(["evaluate", str(specialist), "--split", SPLIT]) in (0, None)
    out = capsys.readouterr().out
    assert f"on {SPLIT} ({len(get_split(SPLIT).instances)} instances" in out
    assert all(sc.name in out for sc in get_split(SPLIT).instances)
