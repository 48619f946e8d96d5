"""distredge_tables carries no stale row: collecting a finished run gives its rows the run's
commit; a kept row of a variant not re-run, whose commit is unknown or whose code changed since,
stops the script in one line; fresh ones are kept; seeds give per-seed rows and a summary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from splitgym.costmodels.provenance import REPO, UNKNOWN, command_line, commit_stamp, write_run_provenance
from splitgym.experiments.dependencies import module_of, paths_of
from splitgym.experiments.distredge_tables import main, merge, run_dir, summary
from splitgym.experiments.distredge_thesis import main as thesis
from splitgym.experiments.distredge_thesis import run_folder
from splitgym.experiments.results_csv import read_csv, write_csv


def _fake_run(out: Path, seed: int, learned_ms: float) -> Path:
    """A finished paper-variant run folder of table1's DB_bw300 (what ``splitgym train`` leaves)."""
    run = run_dir(out, "table1", "DB_bw300", "paper", seed)
    summary = {
        "scenario": {"model": "vgg16", "devices": "DB", "network": "bw300", "alpha": 0.75},
        "latency_ms": {"learned_plan": learned_ms, "actor_deterministic": learned_ms + 1},
        "ips": {"learned_plan": 1e3 / learned_ms},
        "episodes": 10,
        "best_episode": 3,
        "partition": [[0, 5], [6, 17]],
        "classical_latency_ms": {"aofl": 50.0, "equal": 60.0},
    }
    (run / "export").mkdir(parents=True)
    (run / "export" / "summary.json").write_text(json.dumps(summary))
    write_run_provenance(run, paths_of(module_of(command_line())), "python -m splitgym.agents.train")
    return run


def _old_ours_row(commit: str) -> dict:
    return {
        "table": "table1", "run": "DB_bw300", "seed": 0, "model": "vgg16", "devices": "DB", "network": "bw300",
        "alpha": 0.75, "method": "distredge-ours", "latency_ms": 40.0, "ips": 25.0, "episodes": 10,
        "best_episode": 2, "actor_latency_ms": 41.0, "start_latency_ms": 45.0, "partition": "0-17",
        "commit": commit, "command": "python -m splitgym.experiments.distredge_tables table1",
    }  # fmt: skip


ARGV = ["table1", "--only", "DB_bw300", "--variants", "paper", "--collect"]


@pytest.mark.parametrize("commit", [UNKNOWN, "old"])
def test_merge_refuses_a_kept_row_that_is_unknown_or_stale(tmp_path: Path, commit: str):
    if commit == "old":  # a real commit of this repository, long before costmodels/provenance.py
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-list", "--max-parents=0", "HEAD"], capture_output=True, text=True
        ).stdout.split()[0]
    _fake_run(tmp_path, 0, 40.0)
    write_csv(tmp_path / "table1.csv", [_old_ours_row(commit)])
    with pytest.raises(SystemExit) as exc:
        main([*ARGV, "--out", str(tmp_path)])
    msg = str(exc.value)
    assert len(msg.splitlines()) == 1 and "table1.csv: row run=DB_bw300 seed=0 method=distredge-ours" in msg
    assert ("no known commit" in msg) if commit == UNKNOWN else (f"changed since {commit[:10]}: agents/" in msg)
    assert "--rerun-stale" in msg and not (tmp_path / "table1_ratios.csv").exists()


def test_fresh_rows_are_kept_and_seeds_are_summarised(tmp_path: Path):
    stamp = commit_stamp(paths_of(module_of(command_line())))
    old = {**_old_ours_row(stamp), "command": command_line()}
    write_csv(tmp_path / "table1.csv", [old])
    _fake_run(tmp_path, 0, 40.0), _fake_run(tmp_path, 1, 20.0), _fake_run(tmp_path, 2, 25.0)
    main([*ARGV, "--seeds", "0,1,2", "--out", str(tmp_path)])
    rows = read_csv(tmp_path / "table1.csv")
    assert [(r["method"], r["seed"]) for r in rows if r["method"].startswith("distredge")] == [
        ("distredge", 0),
        ("distredge-ours", 0),
        ("distredge", 1),
        ("distredge", 2),
    ]
    assert all(r["commit"] == stamp for r in rows)
    (paper,) = [r for r in read_csv(tmp_path / "table1_summary.csv") if r["variant"] == "paper"]
    assert paper["seeds"] == 3 and paper["over_aofl_median"] == pytest.approx(50 / 25)
    assert (paper["over_aofl_min"], paper["over_aofl_max"]) == (pytest.approx(50 / 40), pytest.approx(50 / 20))


def test_merge_replaces_only_the_same_group_and_seed():
    old = [{**_old_ours_row("c"), "method": m, "seed": s} for s in (0, 1) for m in ("distredge", "aofl")]
    new = [{**_old_ours_row("d"), "method": m, "seed": 0} for m in ("distredge", "aofl")]
    got = merge(old, new, ("paper",))
    assert [(r["seed"], r["commit"]) for r in got] == [(0, "d"), (0, "d"), (1, "c"), (1, "c")]


def test_summary_joins_the_seeds_commits():
    rows = [
        {"run": "g", "variant": "paper", "distredge_ips": x, "over_best_baseline": x, "over_aofl": x,
         "best_baseline": "aofl", "commit": c, "command": "cmd"}
        for x, c in ((1.0, "a"), (2.0, "b"), (3.0, "a"))
    ]  # fmt: skip
    (s,) = summary(rows)
    assert (s["over_aofl_median"], s["over_aofl_min"], s["over_aofl_max"], s["commit"]) == (2.0, 1.0, 3.0, "a|b")


def _fake_thesis_run(out: Path, seed: int) -> Path:
    run = run_folder(out, {"group": "DB_bw300", "boards": "gpu", "variant": "paper", "seed": seed})
    summary = {
        "latency_ms": {"learned_plan": 40.0},
        "best_classical": "aofl",
        "classical_latency_ms": {"aofl": 50.0},
        "episodes": 10,
        "partition": [[0, 17]],
    }
    (run / "export").mkdir(parents=True)
    (run / "export" / "summary.json").write_text(json.dumps(summary))
    (run / "exact_grid8_max4000000.json").write_text(json.dumps({"exact_ms": 39.0, "note": "cached"}))
    return run


def test_thesis_refuses_runs_without_a_commit_unless_kept(tmp_path: Path):
    argv = ["--groups", "DB_bw300", "--boards", "gpu", "--variants", "paper", "--seeds", "0,1", "--collect"]
    _fake_thesis_run(tmp_path, 0)  # made before provenance.json: unknown
    fresh = _fake_thesis_run(tmp_path, 1)
    write_run_provenance(fresh, paths_of(module_of(command_line())), "python -m splitgym.agents.train")
    with pytest.raises(SystemExit, match=r"thesis_runs.csv: row group=DB_bw300 boards=gpu variant=paper seed=0 is "):
        thesis([*argv, "--out", str(tmp_path)])
    assert not (tmp_path / "thesis.csv").exists()
    (row,) = thesis([*argv, "--out", str(tmp_path), "--keep-stale"])
    assert row["seeds"] == 2 and UNKNOWN in row["commit"].split("|") and len(row["commit"].split("|")) == 2
    runs = read_csv(tmp_path / "thesis_runs.csv")
    assert [r["commit"] == UNKNOWN for r in runs] == [True, False]


@pytest.mark.slow
def test_rerun_stale_trains_the_unknown_runs_again(tmp_path: Path):
    """A run folder from before provenance and a kept row of the other variant, both unknown:
    --rerun-stale moves the folder aside, trains both again, and every row has today's commit."""
    run = _fake_run(tmp_path, 0, 40.0)
    (run / "provenance.json").unlink()
    write_csv(tmp_path / "table1.csv", [_old_ours_row(UNKNOWN)])
    small = ["--episodes", "8", "--model", "vgg11", "--input", "64", "--seeds", "0", "--out", str(tmp_path)]
    main(["table1", "--only", "DB_bw300", "--variants", "paper", "--rerun-stale", *small])
    rows = read_csv(tmp_path / "table1.csv")
    assert {r["method"] for r in rows} >= {"distredge", "distredge-ours", "aofl"}
    assert len({r["commit"] for r in rows}) == 1 and UNKNOWN not in {r["commit"] for r in rows}
    assert [p.name.split("-")[0] for p in run.parent.iterdir() if "stale" in p.name] == ["seed0.stale"]
    assert json.loads((run / "provenance.json").read_text())["command"].startswith("python -m splitgym.agents.train")
