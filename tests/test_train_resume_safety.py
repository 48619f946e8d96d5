"""Resuming a training run: only its own config, only a consistent set this user signed, one run
at a time; a crafted pickle in the run folder is refused before it is loaded."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_module
from omegaconf import open_dict

from splitgym.agents.checkpoint_set import MANIFEST
from splitgym.agents.export import exported_policy
from splitgym.agents.train import train
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.run_folder import FolderError, folder_lock

TRAIN = [sys.executable, "-m", "splitgym.agents.train", "experiment=smoke"]
BASE = ["experiment=smoke", "checkpoint_every=5", "eval.every=0", "progress=false"]


def _train(run: Path, *overrides: str) -> dict:
    """``train`` in this process, with the overrides and group choices the app would pass."""
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        cfg = compose(config_name="train", overrides=[*BASE, *overrides], return_hydra_config=True)
    choices = dict(cfg.hydra.runtime.choices)
    with open_dict(cfg):
        del cfg["hydra"]
    return train(cfg, run, [*BASE, *overrides], choices)


@pytest.fixture(scope="module")
def done_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "done"
    _train(run, "episodes=10", "seed=1")
    return run


@pytest.fixture
def run(done_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(done_run, copy)
    return copy


class _Touch:
    """A pickle whose load runs ``touch <path>``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (subprocess.call, (["touch", str(self.path)],))


def _resume(run: Path) -> subprocess.CompletedProcess:
    cmd = [*TRAIN, f"hydra.run.dir={run}", "resume=true", "episodes=12"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_a_crafted_replay_buffer_is_refused_before_it_is_unpickled(run: Path, tmp_path: Path):
    marker = tmp_path / "pwned"
    (run / "checkpoints" / "replay_buffer.pkl").write_bytes(pickle.dumps(_Touch(marker)))
    with pytest.raises(FolderError, match="replay_buffer.pkl does not match manifest.json") as err:
        _train(run, "resume=true", "episodes=12")
    assert "\n" not in str(err.value)
    assert not marker.exists()


@pytest.mark.slow
def test_the_crafted_pickle_through_the_command_is_one_line(run: Path, tmp_path: Path):
    marker = tmp_path / "pwned"
    (run / "checkpoints" / "replay_buffer.pkl").write_bytes(pickle.dumps(_Touch(marker)))
    res = _resume(run)
    assert res.returncode == 2
    errors = [line for line in res.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "does not match manifest.json" in errors[0] and "Traceback" not in res.stderr
    assert not marker.exists()


def test_a_manifest_rewritten_for_the_crafted_pickle_fails_its_signature(run: Path, tmp_path: Path):
    marker = tmp_path / "pwned"
    data = pickle.dumps(_Touch(marker))
    (run / "checkpoints" / "replay_buffer.pkl").write_bytes(data)
    manifest = json.loads((run / "checkpoints" / MANIFEST).read_text())
    manifest["parts"]["replay_buffer.pkl"] = hashlib.sha256(data).hexdigest()
    (run / "checkpoints" / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(FolderError, match="not signed by this user's splitgym"):
        _train(run, "resume=true", "episodes=12")
    assert not marker.exists()


def test_a_set_with_parts_of_two_episodes_is_refused(run: Path, done_run: Path):
    other = run.parent / "other"
    _train(other, "episodes=5", "seed=1")  # same config, an earlier episode
    shutil.copy(other / "checkpoints" / "model.zip", run / "checkpoints" / "model.zip")
    with pytest.raises(FolderError, match=r"model.zip does not match manifest.json \(episode 10\)"):
        _train(run, "resume=true", "episodes=12")


def test_an_override_that_changes_the_saved_config_is_refused(run: Path):
    with pytest.raises(ConfigError, match=r"resume: seed on the command line makes seed=2, but .* has seed=1"):
        _train(run, "resume=true", "seed=2")
    with pytest.raises(ConfigError, match=r"resume: agent on the command line makes agent=td3, but .* has agent=ddpg"):
        _train(run, "resume=true", "agent=td3")


def test_a_resume_uses_the_saved_config_not_the_defaults(run: Path):
    """The run was made with seed=1; a resume that does not name the seed keeps it."""
    summary = _train(run, "resume=true", "episodes=12")
    assert summary["episodes"] == 12
    assert "seed: 1" in (run / "config.yaml").read_text()


def test_an_edited_config_yaml_is_a_foreign_fingerprint(run: Path):
    path = run / "config.yaml"
    text = path.read_text()
    path.write_text(text.replace("  reward: paper", "  reward: relative"))
    assert path.read_text() != text
    with pytest.raises(FolderError, match="written by a run of another config"):
        _train(run, "resume=true", "episodes=12")


def test_a_fresh_run_into_a_finished_folder_is_refused(run: Path):
    with pytest.raises(ConfigError, match="already holds a run; add resume=true"):
        _train(run, "episodes=12", "seed=1")


def test_a_second_run_on_a_locked_folder_fails_at_once(run: Path):
    with folder_lock(run, "train"), pytest.raises(FolderError, match=r"is in use by another run \(pid \d+\)"):
        _train(run, "resume=true", "episodes=12")


@pytest.mark.slow
def test_a_second_command_on_a_running_folder_fails_at_once(run: Path):
    hold = (
        f"from splitgym.costmodels.run_folder import folder_lock\nwith folder_lock({str(run)!r}, 'x'):\n"
        " print('held', flush=True); import time; time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        res = _resume(run)
    finally:
        holder.kill()
        holder.wait()
    assert res.returncode == 2
    errors = [line for line in res.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and f"in use by another run (pid {holder.pid})" in errors[0]


def test_evaluate_loads_the_exported_actor_only_when_its_signed_hash_matches(run: Path):
    actor = run / "export" / "actor.pt2"
    n_state = len(json.loads((run / "export" / "obs_scale.json").read_text())["scale"])  # N + 4
    action = exported_policy(actor)(np.zeros(n_state, dtype=np.float32))
    assert action.shape == (n_state - 5,) and np.all(np.abs(action) <= 1)  # N - 1 actions in [-1, 1]
    actor.write_bytes(actor.read_bytes() + b"\0")
    with pytest.raises(FolderError, match=r"actor.pt2: does not match actor.pt2.sig.json"):
        exported_policy(actor)
    sig = json.loads((run / "export" / "actor.pt2.sig.json").read_text())
    sig["sha256"] = hashlib.sha256(actor.read_bytes()).hexdigest()  # forged without the key
    (run / "export" / "actor.pt2.sig.json").write_text(json.dumps(sig))
    with pytest.raises(FolderError, match="not signed by this user's splitgym"):
        exported_policy(actor)


@pytest.mark.slow
def test_a_resumed_run_repeats_the_uninterrupted_one(tmp_path: Path):
    """DDPG with the same seed: 10 + 10 resumed episodes equal 20 in one go, episode by episode
    (generators restored, the stopping step stored, the pending update made)."""
    _train(tmp_path / "whole", "episodes=20", "seed=1")
    _train(tmp_path / "split", "episodes=10", "seed=1")
    _train(tmp_path / "split", "episodes=20", "resume=true")
    whole, split = (json.loads((tmp_path / r / "checkpoints" / "best.json").read_text()) for r in ("whole", "split"))
    assert len(whole["latencies"]) == len(split["latencies"]) == 20
    assert split["latencies"] == whole["latencies"]
    assert split["best_decision"] == whole["best_decision"]
