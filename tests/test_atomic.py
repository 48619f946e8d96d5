"""Atomic writes: a full disk or a kill leaves the old file whole and no fragment behind."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from splitgym.costmodels import atomic
from splitgym.costmodels.atomic import WriteError, atomic_torch_save, atomic_write, remove_stale_temps
from splitgym.costmodels.plan import load_plan
from splitgym.experiments.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", no_space)


def _plan(tmp_path: Path) -> Path:
    out = tmp_path / "plan.json"
    assert main(["plan", "equal", "--model", "vgg11", "--input", "64", "-o", str(out)]) == 0
    return out


def test_a_full_disk_keeps_the_old_plan_and_leaves_no_fragment(tmp_path, monkeypatch):
    path = _plan(tmp_path)
    before = path.read_bytes()
    plan = load_plan(path)
    _full_disk(monkeypatch)
    with pytest.raises(WriteError, match=r"plan.json: cannot write \(No space left on device\); the previous") as err:
        plan.evolve(method="other").save(path)
    assert "\n" not in str(err.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


def test_a_full_disk_mid_torch_save_leaves_nothing(tmp_path, monkeypatch):
    import torch

    _full_disk(monkeypatch)
    with pytest.raises(WriteError):
        atomic_torch_save(torch.zeros(1000), tmp_path / "part.pt")
    assert list(tmp_path.iterdir()) == []


def test_a_failure_inside_the_block_removes_the_temp_file(tmp_path):
    (tmp_path / "a.json").write_text("old")
    with pytest.raises(ZeroDivisionError), atomic.atomic_file(tmp_path / "a.json") as f:
        f.write(b"half")
        _ = 1 / 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
    assert (tmp_path / "a.json").read_text() == "old"


def test_a_killed_writers_temp_file_is_removed_by_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"x.json.tmp{int(dead.stdout)}-abcd1234"
    stale.write_text("fragment")
    mine = tmp_path / f"y.json.tmp{os.getpid()}-abcd1234"  # a live writer's: kept
    mine.write_text("in progress")
    atomic_write(tmp_path / "x.json", "{}")
    assert not stale.exists() and mine.exists()
    assert remove_stale_temps(tmp_path) == []


def test_no_module_writes_a_file_in_place():
    """Every write goes through costmodels/atomic.py (appends to logs and journals excepted)."""
    offenders = []
    needles = (".write_text(", "torch.save(", '.open("w"', ', "w")', "torch.export.save(program, str")
    for top in ("costmodels", "executors", "envs", "agents", "experiments"):
        for path in (ROOT / top).rglob("*.py"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                streams = "devnull" in line or ".log" in line or ", buf)" in line  # streams and memory, not files
                if path.name != "atomic.py" and not streams and any(k in line for k in needles):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}")
    assert offenders == []
