"""The thesis experiment (linear vs GPU-shaped boards): its linear devices group, its summary over
seeds, and (slow) two short training runs end to end with the exact search on the learned partition."""

from __future__ import annotations

import pytest
import yaml

from splitgym.costmodels.cluster import Cluster
from splitgym.experiments.distredge_thesis import linear_devices, main, summarise
from splitgym.experiments.results_csv import read_csv


def test_linear_devices_derive_every_board_linearly(tmp_path):
    path = linear_devices("DB", tmp_path)
    cfg = yaml.safe_load(path.read_text())
    assert cfg["devices"] and all(d["derive"] == "linear" for d in cfg["devices"])
    assert {d.spec.derive for d in Cluster.from_config(str(path), 300.0).devices} == {"linear"}


def test_summary_takes_median_min_max_over_seeds():
    rows = [
        {
            "group": "g",
            "boards": "gpu",
            "variant": "ours",
            "gain_over_best": g,
            "gain_over_exact": e,
            "best_classical": "aofl",
        }
        for g, e in ((1.0, None), (1.2, 1.1), (0.9, 0.8))
    ]
    (s,) = summarise(rows)
    assert (s["over_best_median"], s["over_best_min"], s["over_best_max"], s["seeds"]) == (1.0, 0.9, 1.2, 3)
    assert (s["over_exact_median"], s["over_exact_min"], s["over_exact_max"]) == (pytest.approx(0.95), 0.8, 1.1)


@pytest.mark.slow
def test_thesis_runs_both_board_shapes_end_to_end(tmp_path):
    argv = ["--groups", "DB_bw300", "--variants", "paper", "--seeds", "0", "--episodes", "10"]
    main([*argv, "--model", "vgg11", "--input", "64", "--out", str(tmp_path)])
    runs = read_csv(tmp_path / "thesis_runs.csv")
    assert {r["boards"] for r in runs} == {"gpu", "linear"}
    for r in runs:
        assert r["gain_over_best"] == pytest.approx(r["best_classical_ms"] / r["learned_ms"])
        assert r["exact_ms"] > 0 and r["gain_over_exact"] == pytest.approx(r["exact_ms"] / r["learned_ms"])
    assert runs[0]["learned_ms"] != runs[1]["learned_ms"]  # the board shapes differ
    assert "| DB_bw300 | linear | paper | 1 |" in (tmp_path / "thesis.md").read_text()


def test_collect_launches_nothing(tmp_path):
    with pytest.raises(SystemExit, match="no finished runs"):
        main(["--groups", "DB_bw300", "--seeds", "0", "--collect", "--out", str(tmp_path)])
    assert not (tmp_path / "runs").exists()
