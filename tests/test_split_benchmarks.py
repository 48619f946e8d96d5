"""The named-split benchmark script runs the README's commands (families, splits, targets, seeds),
subsets by ``--families``, stamps MSMDI's runs before training, reuses trained ones, copies the
tables into the results folder, and refuses bad options in one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from splitgym.experiments import split_benchmarks
from splitgym.experiments.split_benchmarks import commands, main

ROOT = Path("runs/split_benchmarks")


def _words(cmd: list[str]) -> list[str]:
    return cmd[1:]  # without the CLI's absolute path


def test_the_commands_are_the_readme_s() -> None:
    cmds = [_words(c) for c in commands(ROOT, ["msmdi", "hidp", "nptp"], ["0", "1", "2"])]
    train = [
        ["train", "env=msmdi", "env.id=splitgym/MSMDI-v1", "env.instances={rates:[[3,7],[7,13]]}", "agent=ppo",
         "episodes=40", f"seed={s}", "env.eval_episodes=1", f"hydra.run.dir={ROOT}/msmdi_runs/s{s}"]
        for s in (0, 1, 2)
    ]  # fmt: skip
    assert cmds[:3] == train
    assert cmds[3:] == [
        ["benchmark", "ms-mdi", "ar-mdi", "local", "ms-mdi-mw", "random", f"{ROOT}/msmdi_runs",
         "--split", "msmdi-v1/test", "--seeds", "3", "-o", f"{ROOT}/bench-msmdi"],
        ["benchmark", "hidp", "disnet", "omniboost", "earliest-finish", "random",
         "--split", "hidp-v0/test", "--seeds", "3", "--random-evals", "20", "-o", f"{ROOT}/bench-hidp"],
        ["benchmark", "equal-strips", "coedge-lp", "coedge-strips", "grid", "nptp-mpa", "random",
         "--split", "nptp-v1/test", "--seeds", "3", "--random-evals", "20", "-o", f"{ROOT}/bench-nptp"],
    ]  # fmt: skip


def test_families_subset_and_skip_training() -> None:
    cmds = [_words(c) for c in commands(ROOT, ["nptp", "hidp"], ["0"])]
    assert [c[0] for c in cmds] == ["benchmark", "benchmark"]
    assert [c[c.index("--split") + 1] for c in cmds] == ["nptp-v1/test", "hidp-v0/test"]
    only = commands(ROOT, ["msmdi"], ["4", "5"], episodes=7, skip_training=True, instances="0,2", random_evals=3)
    assert len(only) == 1 and only[0][1] == "benchmark"
    assert ["--random-evals", "3"] == only[0][only[0].index("--random-evals") :][:2]
    assert "--instances" in only[0] and only[0][only[0].index("--instances") + 1] == "0,2"
    seeds = [c for c in commands(ROOT, ["msmdi"], ["4", "5"], episodes=7) if c[1] == "train"]
    assert [[w for w in c if w.startswith(("seed=", "episodes="))] for c in seeds] == [
        ["episodes=7", "seed=4"],
        ["episodes=7", "seed=5"],
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--families", "hidp,dinsnet"], "argument --families: 'dinsnet' is not a family (msmdi, hidp, nptp)"),
        (["--families", ","], "argument --families: ',' is not a family"),
        (["--seeds", "0,x"], "argument --seeds: '0,x' is not a comma-separated list"),
        (["--episodes", "0"], "argument --episodes: '0' is not a positive integer"),
        (["--random-evals", "-2"], "argument --random-evals: '-2' is not a positive integer"),
    ],
)
def test_bad_options_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and "Traceback" not in err


def test_main_stamps_new_runs_reuses_trained_ones_and_copies_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root, out = tmp_path / "runs", tmp_path / "results"
    trained = root / "msmdi_runs" / "s0" / "export" / "policy.zip"
    trained.parent.mkdir(parents=True)
    trained.write_bytes(b"zip")
    ran: list[list[str]] = []

    def fake_run(cmd: list[str], check: bool) -> None:
        ran.append(cmd)
        if cmd[1] == "benchmark":  # what the CLI writes, one file per format
            bench = Path(cmd[cmd.index("-o") + 1])
            bench.mkdir(parents=True)
            for ext in ("csv", "md", "png"):
                (bench / f"benchmark.{ext}").write_text(f"{bench.name}.{ext}")

    monkeypatch.setattr(split_benchmarks, "subprocess", SimpleNamespace(run=fake_run))  # git still runs
    main(["--root", str(root), "--out", str(out), "--families", "msmdi,hidp", "--seeds", "0,1"])
    assert [c[1] for c in ran] == ["train", "benchmark", "benchmark"]  # seed 0 reused
    assert "seed=1" in ran[0] and "reused" in capsys.readouterr().out
    assert not (root / "msmdi_runs" / "s0" / "provenance.json").exists()
    stamp = json.loads((root / "msmdi_runs" / "s1" / "provenance.json").read_text())
    assert stamp["command"].startswith("splitgym train env=msmdi") and stamp["commit"]
    copied = [f"split_bench_{f}.{e}" for f in ("hidp", "msmdi") for e in ("csv", "md", "png")]
    assert sorted(p.name for p in out.iterdir()) == copied
    assert (out / "split_bench_hidp.md").read_text() == "bench-hidp.md"
    assert split_benchmarks.FAMILIES["hidp"][0] == "hidp-v0/test"


@pytest.mark.slow
def test_a_real_hidp_run_on_one_instance(tmp_path: Path) -> None:
    """The real CLI end to end (~20 s): one test instance, 2 random episodes per seed."""
    out = tmp_path / "results"
    argv = ["--families", "hidp", "--instances", "2", "--random-evals", "2", "--root", str(tmp_path), "--out", str(out)]
    main(argv)
    with (out / "split_bench_hidp.csv").open() as f:
        rows = list(csv.DictReader(f))
    targets = {r["target"] for r in rows}
    assert {"hidp", "disnet", "omniboost", "earliest-finish"} <= targets and any("random" in t for t in targets)
    assert len({r["instance"] for r in rows}) == 1 and all(r["commit"] and r["command"] for r in rows)
    assert (out / "split_bench_hidp.png").stat().st_size > 0 and "| hidp |" in (out / "split_bench_hidp.md").read_text()
