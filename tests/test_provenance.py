"""Provenance of results rows on a temporary git repository: a row made at commit A stays fresh
when an unrelated file changes, turns stale when a file it depends on changes (imported
experiments modules included), is unknown without a commit; a dirty stamp is fresh only on the
same uncommitted diff; no git is one stderr line, never a crash."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from splitgym.costmodels.provenance import UNKNOWN, command_line, commit_stamp, read_run_provenance, stamp_rows
from splitgym.experiments.dependencies import module_of, paths_of
from splitgym.experiments.results_check import check_csv, mark_unknown, status
from splitgym.experiments.results_csv import read_csv, write_csv

COMMAND = "python -m splitgym.experiments.mod all"


def _git(repo: Path, *args: str) -> str:
    cmd = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "c")
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    _commit(
        tmp_path,
        {
            "costmodels/sim.py": "x = 1\n",
            "conf/a.yaml": "a: 1\n",
            "experiments/mod.py": "from splitgym.experiments.helper import h\n",
            "experiments/helper.py": "def h(): ...\n",
            "experiments/other.py": "y = 1\n",
            "notes.md": "hi\n",
        },
    )
    return tmp_path


def _row(repo: Path) -> dict[str, str]:
    return {"commit": commit_stamp(paths_of(module_of(COMMAND), repo), repo), "command": COMMAND}


def test_row_fresh_after_unrelated_change_stale_after_dependency_change(repo: Path):
    row = _row(repo)
    assert status(row, repo) == ("fresh", [])
    _commit(repo, {"notes.md": "changed\n", "experiments/other.py": "y = 2\n"})
    assert status(row, repo) == ("fresh", [])
    _commit(repo, {"experiments/helper.py": "def h(): return 2\n"})  # imported by mod: a dependency
    assert status(row, repo) == ("stale", ["experiments/helper.py"])
    _commit(repo, {"costmodels/sim.py": "x = 2\n"})
    assert status(row, repo) == ("stale", ["costmodels/sim.py", "experiments/helper.py"])


def test_row_without_a_known_commit_is_unknown(repo: Path):
    assert status({"command": COMMAND}, repo)[0] == "unknown"
    assert status({"commit": UNKNOWN, "command": COMMAND}, repo)[0] == "unknown"
    assert status({"commit": "0" * 40, "command": COMMAND}, repo)[0] == "unknown"  # not in this repository
    fresh = _row(repo)["commit"]
    assert status({"commit": f"{fresh}|{UNKNOWN}", "command": COMMAND}, repo)[0] == "unknown"


def test_dirty_stamp_is_fresh_only_on_the_same_uncommitted_diff(repo: Path):
    (repo / "costmodels/sim.py").write_text("x = 3\n")
    row = _row(repo)
    assert "+dirty." in row["commit"]
    assert status(row, repo) == ("fresh", [])
    (repo / "costmodels/sim.py").write_text("x = 4\n")
    state, changed = status(row, repo)
    assert state == "stale" and changed[0].startswith("(uncommitted changes")
    (repo / "notes.md").write_text("unrelated, uncommitted\n")  # not a dependency: no dirty mark
    (repo / "costmodels/sim.py").write_text("x = 1\n")
    assert "+dirty" not in _row(repo)["commit"]


def test_no_git_is_unknown_in_one_line(tmp_path: Path, capsys):
    commit_stamp.__globals__["_say_unknown"].cache_clear()
    assert commit_stamp(("costmodels",), tmp_path) == UNKNOWN
    assert commit_stamp(("costmodels",), tmp_path) == UNKNOWN
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a git checkout" in err[0]
    assert read_run_provenance(tmp_path) == {"commit": UNKNOWN, "command": UNKNOWN}


def test_write_csv_stamps_rows_but_keeps_their_own(tmp_path: Path):
    path = write_csv(tmp_path / "t.csv", [{"a": 1}, {"a": 2, "commit": "abc", "command": "old cmd"}], command="new")
    rows = read_csv(path)
    assert list(rows[0]) == ["a", "commit", "command"]
    assert rows[0]["commit"] not in ("", UNKNOWN) and rows[0]["command"] == "new"
    assert (rows[1]["commit"], rows[1]["command"]) == ("abc", "old cmd")


def test_rows_from_before_provenance_read_and_mark_as_unknown(tmp_path: Path):
    path = tmp_path / "old.csv"
    path.write_text("a,b\n1,x\n")
    assert read_csv(path) == [{"a": 1, "b": "x", "commit": UNKNOWN, "command": UNKNOWN}]
    assert check_csv(path) == [f"{path}: 1 of 1 rows unknown (no commit this repository holds)"]
    assert mark_unknown(path) and not mark_unknown(path)
    assert path.read_text().splitlines() == ["a,b,commit,command", "1,x,unknown,unknown"]


def test_stamp_rows_fills_only_what_is_missing():
    rows = stamp_rows([{"commit": "c1", "command": "x"}], ("costmodels",), "y")
    assert rows == [{"commit": "c1", "command": "x"}]


def test_command_line_names_the_module_or_the_program(monkeypatch):
    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__spec__=types.SimpleNamespace(name="a.b")))
    assert command_line(["/x/a/b.py", "all", "--seeds", "0,1"]) == "python -m a.b all --seeds 0,1"
    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__spec__=None))
    assert command_line(["/venv/bin/splitgym", "bench", "a b"]) == "splitgym bench 'a b'"
    assert module_of("splitgym bench") == "splitgym.experiments.cli"


def test_dependencies_follow_experiments_imports_on_this_repository():
    thesis = paths_of("splitgym.experiments.distredge_thesis")
    assert {
        "costmodels",
        "agents",
        "conf",
        "experiments/distredge_thesis.py",
        "experiments/distredge_tables.py",
    } <= set(thesis)
    assert "experiments/bench_cli.py" not in thesis
    assert paths_of("splitgym.agents.train") == ("costmodels", "envs", "agents", "executors", "conf")
    assert "experiments" in paths_of(None)  # a command naming no module: everything


def test_provenance_cli_records_a_shell_launched_run(tmp_path: Path, capsys):
    from splitgym.costmodels.provenance import main

    assert main([str(tmp_path / "run"), "splitgym", "train", "env.images=[300,900]"]) == 0
    got = read_run_provenance(tmp_path / "run")
    assert got["command"] == "splitgym train 'env.images=[300,900]'" and got["commit"] not in ("", UNKNOWN)
    assert main([str(tmp_path / "run")]) == 2 and "usage:" in capsys.readouterr().err


def test_benchmark_rows_of_a_trained_target_carry_its_runs_commits(tmp_path: Path):
    import json

    from splitgym.agents.bench_report import _target_commit

    for run, commit in (("0", "abc"), ("1", None)):
        (tmp_path / "sweep" / run / "export").mkdir(parents=True)
        (tmp_path / "sweep" / run / "export" / "policy.zip").write_bytes(b"")
        if commit:
            (tmp_path / "sweep" / run / "provenance.json").write_text(json.dumps({"commit": commit, "command": "c"}))
    target = str(tmp_path / "sweep")
    assert _target_commit(target) == f"abc|{UNKNOWN}"  # one run recorded nothing: unknown, never today's
    (tmp_path / "sweep" / "provenance.json").write_text(json.dumps({"commit": "def", "command": "c"}))
    assert _target_commit(target + " (best episode)") == "abc|def"  # the sweep's own record fills in
    assert _target_commit("aofl") is None
