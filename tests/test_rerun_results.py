"""The re-run plan: every training step has 3 seeds, estimates come from run folders' wall_s, and
a bad --from is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitgym.experiments.rerun_results import START_S, STEPS, _walls, estimate, main, stale_steps
from splitgym.experiments.results_csv import write_csv


def _thesis_run(root: Path, group: str, variant: str, seed: int, wall_s: float) -> None:
    path = root / "thesis" / group / "gpu" / variant / f"seed{seed}" / "export" / "summary.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"wall_s": wall_s}))


def test_distredge_steps_train_three_seeds_and_estimate_from_wall_s(tmp_path: Path, capsys):
    for seed, wall in enumerate((10.0, 30.0, 1000.0)):
        _thesis_run(tmp_path, "LB_LB", "paper", seed, wall)
        _thesis_run(tmp_path, "LB_LB", "ours", seed, wall / 10)
    table3 = next(s for s in STEPS if s.name == "distredge-table3")
    assert table3.args[-2:] == ("--seeds", "0,1,2")
    secs, why = estimate(table3, _walls(tmp_path))
    assert secs == pytest.approx(4 * 3 * ((30.0 + START_S) + (3.0 + START_S)))  # medians, 4 groups, 3 seeds
    assert "24 runs" in why and "LB_LB" in why
    assert estimate(table3, {})[0] is None
    assert main(["--runs", str(tmp_path), "--from", "distredge-table3"]) == 0
    out = capsys.readouterr().out
    assert "python -m splitgym.experiments.distredge_tables table3 --seeds 0,1,2" in out and "lcpss" not in out


def test_bad_from_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["--from", "nope"])
    assert "--from: no step 'nope'" in capsys.readouterr().err


def test_stale_csvs_map_to_the_steps_that_remake_them(tmp_path: Path):
    (tmp_path / "hyps_parts.csv").write_text("a\n1\n")  # from before provenance: unknown
    (tmp_path / "mystery.csv").write_text("a\n1\n")
    write_csv(tmp_path / "lcpss_samples.csv", [{"a": 1}])  # made now: fresh
    lines, orphans = stale_steps(tmp_path, {})
    assert len(lines) == 1 and lines[0].startswith("hyps ") and "hyps_parts.csv" in lines[0]
    assert orphans == [str(tmp_path / "mystery.csv")]
