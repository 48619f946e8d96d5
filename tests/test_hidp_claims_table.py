"""HiDP's claims table (experiments/hidp_claims_table.py): every row names its CSVs or "not run"
with a command, Figs. 1, 5-8 and data mode are covered, ours and the why follow the CSVs (the
README's table: tests/test_claims_tables.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from splitgym.experiments.claims_table import NOT_RUN
from splitgym.experiments.hidp_claims_table import COMMANDS, claim_rows, main
from splitgym.experiments.results_csv import read_csv, write_csv

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"


def test_every_row_names_its_csvs_and_every_figure_is_covered() -> None:
    rows = claim_rows(RESULTS)
    for r in rows:
        assert r["paper"] and r["claim"] and r["why"] and r["source"] != NOT_RUN, r
        assert all((RESULTS / n).exists() for n in r["source"].split(", ")), r
    assert [r["figure"] for r in rows] == ["Fig. 1", "Fig. 5a", "Fig. 5b", "Fig. 6", "Fig. 7", "Fig. 8", "Sec. IV"]


def _copy(tmp_path: Path) -> None:
    for name in COMMANDS:
        shutil.copy(RESULTS / name, tmp_path / name)


def test_ours_and_why_follow_the_csvs(tmp_path: Path) -> None:
    """HiDP made faster than DisNet by 40 % on Fig. 5a, and the 0.03 sweep at 60 % on one TX2."""
    _copy(tmp_path)
    claims = read_csv(tmp_path / "hidp_claims.csv")
    for r in claims:
        if (r["claim"], r["vs"]) == ("latency_fig5a", "disnet"):
            r["ours_pct"] = 40.0
    write_csv(tmp_path / "hidp_claims.csv", claims)
    sens = read_csv(tmp_path / "hidp_sensitivity_summary.csv")
    for r in sens:
        if (r["sweep"], r["value"]) == ("gpu_eff_tx2", 0.03):
            r["gain_vs_disnet_pct"] = 60.0
    write_csv(tmp_path / "hidp_sensitivity_summary.csv", sens)
    rows = {r["figure"]: r for r in claim_rows(tmp_path)}
    assert rows["Fig. 5a"]["ours"].startswith("40.0 / 29.1 / ")
    assert "60.0 % at 0.03" in rows["Fig. 1"]["why"] and "60.0 % at 0.03" not in claim_rows(RESULTS)[0]["why"]


def test_a_missing_csv_is_not_run_with_its_command(tmp_path: Path, capsys) -> None:
    _copy(tmp_path)
    (tmp_path / "hidp_mixes.csv").unlink()
    text = main(["--out", str(tmp_path)])
    fig7 = next(r for r in read_csv(tmp_path / "hidp_claims_table.csv") if r["figure"] == "Fig. 7")
    assert fig7["source"] == NOT_RUN and "`python -m splitgym.experiments.hidp_tables`" in fig7["ours"]
    assert text == (tmp_path / "hidp_claims_table.md").read_text() and capsys.readouterr().out == text
