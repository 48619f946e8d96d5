"""A run's stamp covers what results_check compares for its command, not every results file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from splitgym.costmodels.provenance import read_run_provenance
from splitgym.experiments.stamp_run import main, stamp_run


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _repo(tmp_path: Path) -> Path:
    """A tiny repository shaped like ours: one source folder, the CLI module, one results CSV."""
    repo = tmp_path / "repo"
    for rel, text in {
        "costmodels/board.py": "X = 1\n",
        "experiments/cli.py": "Y = 2\n",
        "experiments/results/table.csv": "a\n1\n",
    }.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    return repo


def test_a_changed_results_csv_leaves_the_stamp_clean_a_changed_source_does_not(tmp_path: Path):
    repo = _repo(tmp_path)
    (repo / "experiments/results/table.csv").write_text("a\n2\n")  # another step's output, uncommitted
    clean = stamp_run(tmp_path / "run", "splitgym train env=msmdi seed=0", repo)
    assert "+dirty" not in clean["commit"] and len(clean["commit"]) == 40
    (repo / "costmodels/board.py").write_text("X = 3\n")
    dirty = stamp_run(tmp_path / "run2", "splitgym train env=msmdi seed=0", repo)
    assert dirty["commit"].startswith(clean["commit"] + "+dirty.")
    assert read_run_provenance(tmp_path / "run2") == dirty


def test_cli_writes_the_command_and_refuses_too_few_arguments(tmp_path: Path, capsys):
    assert main([str(tmp_path / "run"), "splitgym", "train", "env.images=[300,900]"]) == 0
    assert read_run_provenance(tmp_path / "run")["command"] == "splitgym train 'env.images=[300,900]'"
    with pytest.raises(SystemExit) as err:
        main([str(tmp_path / "run")])
    assert err.value.code == 2 and "COMMAND is missing" in capsys.readouterr().err
