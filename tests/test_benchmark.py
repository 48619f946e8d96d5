"""splitgym benchmark: planners, random search and a trained run over a (tiny piece of a) split."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from splitgym.agents.bench_adapters import DistrEdgeAdapter
from splitgym.agents.bench_report import aggregate, write_outputs
from splitgym.agents.benchmark import TargetResult, run_benchmark, subset
from splitgym.envs.splits import get_split, load_references
from splitgym.experiments.cli import main

SPLIT = "distredge-v1/val"
TINY = [1]  # vgg11@64 on 3 devices: the quickest instance to build


def test_planners_score_against_the_shipped_references():
    res = run_benchmark(["aofl", "equal"], SPLIT, instances=TINY)
    refs = load_references(SPLIT)
    name = get_split(SPLIT).instances[TINY[0]].name
    rows = {r["target"]: r for r in res["rows"]}
    # the live planner reproduces the shipped reference (references.json is not stale)
    assert rows["aofl"]["latency_ms"] == pytest.approx(refs[name]["aofl"], rel=1e-9)
    best = min(v for v in refs[name].values() if v is not None)
    for r in rows.values():
        assert r["reference_ms"] == pytest.approx(best)
        assert r["score"] == pytest.approx(best / r["latency_ms"]) and r["score"] <= 1 + 1e-12
    assert rows["equal"]["score"] < rows["aofl"]["score"]


def test_random_search_improves_with_more_evaluations():
    adapter = DistrEdgeAdapter(subset(get_split(SPLIT), TINY))
    few, many = (adapter.random_search_latency(0, e, seed=3) for e in (2, 40))
    assert many <= few  # the same stream: the first 2 draws are among the 40
    assert adapter.random_search_latency(0, 40, seed=3) == many


def test_aggregate_is_rliable_iqm_with_intervals_over_seeds():
    split = subset(get_split(SPLIT), [0, 1, 2, 3])
    ref = np.ones(4)
    rng = np.random.default_rng(0)
    lat = 1.0 / rng.uniform(0.5, 1.0, (5, 4))
    planner = TargetResult("p", 1.0 / np.array([[0.9, 0.8, 0.7, 0.6]]), "-", [0])
    policy = TargetResult("q", lat, "1", list(range(5)))
    agg = {a["target"]: a for a in aggregate([planner, policy], ref, split)}
    scores = (1.0 / lat).ravel()
    assert agg["q"]["IQM"] == pytest.approx(stats.trim_mean(scores, 0.25))
    assert agg["q"]["mean"] == pytest.approx(scores.mean())
    assert agg["q"]["IQM_lo"] < agg["q"]["IQM"] < agg["q"]["IQM_hi"]
    assert agg["p"]["IQM_lo"] == agg["p"]["IQM"] == agg["p"]["IQM_hi"]  # one row: no seed moves it
    assert agg["p"]["mean"] == pytest.approx(0.75)


def test_cli_writes_csv_md_png_and_refuses_bad_targets(tmp_path, capsys):
    assert main(["benchmark", "offload", "random", "--split", SPLIT, "--instances", "1", "--seeds", "2",
                 "--random-evals", "3", "-o", str(tmp_path)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "| offload |" in out and "| random@3 | 3 | 2 |" in out
    rows = (tmp_path / "benchmark.csv").read_text().splitlines()
    assert len(rows) == 1 + 1 + 2  # header, offload, random x 2 seeds
    assert (tmp_path / "benchmark.png").stat().st_size > 0 and "IQM" in (tmp_path / "benchmark.md").read_text()
    assert main(["benchmark", "hyps", "--split", SPLIT, "--instances", "1", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a volume planner" in err and len(err.strip().splitlines()) == 1
    assert main(["benchmark", "aofl", "--split", "nope/test"]) == 2
    assert "unknown split" in capsys.readouterr().err


def test_list_splits(capsys):
    assert main(["list", "splits", "--json"]) == 0
    rows = {r["split"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["distredge-v1/test"]["instances"] == 9 and rows["distredge-v1/train"]["instances"] == 24


def test_outputs_need_rows(tmp_path):
    res = run_benchmark(["equal"], SPLIT, instances=TINY)
    paths = write_outputs(res, tmp_path)
    assert [p.name for p in paths] == ["benchmark.csv", "benchmark.md", "benchmark.png"]


@pytest.mark.slow
def test_a_trained_specialist_plays_only_its_instance(tmp_path):
    run = tmp_path / "run"
    cli = str(Path(sys.executable).parent / "splitgym")
    subprocess.run(
        [cli, "train", "env=distredge_v1", f"env.split={SPLIT}", "env.instance=1", "episodes=12", "eval.every=0",
         "agent.kwargs.learning_starts=8", f"hydra.run.dir={run}"],
        check=True, capture_output=True,
    )  # fmt: skip
    assert (run / "export" / "policy.zip").exists()
    res = run_benchmark([str(tmp_path)], SPLIT, instances=[0, 1])
    rows = {r["target"]: r for r in res["rows"]}
    policy, best = rows[str(tmp_path)], rows[f"{tmp_path} (best episode)"]
    assert len(res["rows"]) == 2 and policy["instance"] == get_split(SPLIT).instances[1].name
    assert res["aggregate"][0]["evals/instance"] == "12"
    summary = json.loads((run / "export" / "summary.json").read_text())
    assert summary["policy"] == "best episode's"
    assert policy["latency_ms"] == pytest.approx(next(iter(summary["instances"].values()))["latency_ms"])
    assert best["latency_ms"] == pytest.approx(summary["best_latency_ms"])
