"""A plain (not editable) install works: a wheel built from the checkout, installed into a fresh
venv that borrows this venv's third-party packages (torch is 5 GB: it is not installed twice),
runs the command line and the training entry point from outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900, env=env, **kw)


@pytest.mark.slow
def test_a_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    src = tmp_path / "src"  # the tracked files only: a build/ left in the checkout could leak stale modules
    for f in _run(["git", "ls-files"], cwd=ROOT).stdout.split():
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f)
    wheels = tmp_path / "wheels"
    r = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(src)],
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    (wheel,) = wheels.glob("splitgym-*.whl")
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path).returncode == 0
    py = venv / "bin" / "python"
    site = Path(
        _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path).stdout.strip()
    )
    (site / "_borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # torch & co., not splitgym
    r = _run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run(
        [str(py), "-c", "import splitgym.costmodels as c, splitgym.agents.train; print(c.__path__[0])"], cwd=work
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(site)), where.stdout  # the installed copy, not the checkout
    cli = venv / "bin" / "splitgym"
    assert _run([str(cli), "--help"], cwd=work).returncode == 0
    r = _run(
        [str(cli), "plan", "equal", "--model", "vgg11", "--input", "64", "--devices", "DB", "-o", "p.json"], cwd=work
    )
    assert r.returncode == 0 and (work / "p.json").exists(), r.stderr
    r = _run([str(cli), "simulate", "p.json", "--json"], cwd=work)
    assert r.returncode == 0 and '"kind": "volumes"' in r.stdout, r.stderr
    r = _run([str(cli), "train", "experiment=smoke", "hydra.run.dir=run"], cwd=work)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (work / "run" / ".hydra" / "config.yaml").exists()
