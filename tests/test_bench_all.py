"""``make bench``'s table: bench_all in its smallest mode writes the CSV and the Markdown."""

from __future__ import annotations

from splitgym.experiments.bench_all import COLUMNS, main
from splitgym.experiments.results_csv import read_csv


def test_bench_all_smallest_writes_the_table(tmp_path):
    main(["--mode", "smallest", "--out", str(tmp_path)])
    rows = read_csv(tmp_path / "bench.csv")
    assert rows and list(rows[0]) == [*COLUMNS, "commit", "command"]  # write_csv: provenance last
    assert not [r for r in rows if r["metric"] == "failed"], [r["note"] for r in rows if r["metric"] == "failed"]
    got = {(r["benchmark"], r["case"], r["anchor"] or "") for r in rows}
    for env_id in ("splitgym/DistrEdge-v0", "splitgym/NPTP-v0", "splitgym/MSMDI-v0"):
        assert {("envs", env_id, "CartPole-v1"), ("envs", env_id, "Pendulum-v1")} <= got
    assert {("envs", "CartPole-v1", ""), ("envs", "Pendulum-v1", "")} <= got
    loop = "splitgym/DistrEdge-v0, for-loop Adam"
    assert {("ddpg", loop, "Pendulum-v1"), ("ddpg", "splitgym/DistrEdge-v0", loop)} <= got
    assert ("partitions", "vgg16", "brute force") in got
    assert ("exact", "vgg16 DB 0,7,14 grid 4", "enumerate") in got
    assert all("same plan: True" in r["note"] for r in rows if r["benchmark"] == "exact" and r["anchor"])
    assert ("pilot", "vgg16 DB", "full pricing") in got
    assert all("same choice: True" in r["note"] for r in rows if r["benchmark"] == "pilot" and r["anchor"])
    assert any(r["benchmark"] == "simulator" and r["anchor"] == "score, batched path" for r in rows)
    assert ("vecenv", "DistrEdgeVecEnv, B=1024", "SyncVectorEnv, B=8") in got
    assert any(r["benchmark"] == "nptp-env" and r["metric"].startswith("NPTPVectorEnv") for r in rows)
    for r in rows:
        if r["anchor"]:
            assert r["value"] > 0 and r["ratio"] > 0, r
        assert r["load_before"] is not None and r["load_after"] is not None
    assert {r["benchmark"] for r in rows if r["metric"] == "skipped"} == {"queueing", "cli", "hosts"}
    md = (tmp_path / "bench.md").read_text()
    assert "| benchmark |" in md and "DistrEdge-v0" in md and "skipped" in md
