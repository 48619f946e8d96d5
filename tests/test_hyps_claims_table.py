"""HyPS's claims table (experiments/hyps_claims_table.py): every row names its CSV or "not run"
with a command, Figs. 8, 9, 11, 12 and the fc6 part count are covered, ours and the why follow
the CSVs, and the shipped table and README block are what the CSVs give."""

from __future__ import annotations

import shutil
from pathlib import Path

from splitgym.experiments.claims_table import NOT_RUN
from splitgym.experiments.hyps_claims_table import COMMANDS, claim_rows, main
from splitgym.experiments.results_csv import read_csv, write_csv

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"


def test_every_row_names_its_source_or_not_run_and_every_figure_is_covered() -> None:
    rows = claim_rows(RESULTS)
    for r in rows:
        assert r["paper"] and r["claim"] and r["why"], r
        if r["source"] == NOT_RUN:
            assert r["ours"].startswith("not run: `python -m splitgym.experiments.hyps_tables"), r
        else:
            assert all((RESULTS / n).exists() or (ROOT / n).exists() for n in r["source"].split(", ")), r
    figures = [r["figure"] for r in rows]
    assert {"Fig. 8", "Fig. 9", "Fig. 11", "Fig. 12a", "Fig. 12b", "Sec. V (Fig. 12)"} == set(figures)
    assert figures.count("Fig. 8") == 3 and figures.count("Fig. 12a") == 2


def _copy(tmp_path: Path) -> None:
    for name in COMMANDS:
        shutil.copy(RESULTS / name, tmp_path / name)


def test_ours_and_why_follow_the_csvs(tmp_path: Path) -> None:
    """fc6 made to cost 0.1 s more per real part: 50 over 4 parts becomes 1 + 4.6 / T(4)."""
    _copy(tmp_path)
    real = read_csv(tmp_path / "hyps_measured.csv")
    base = next(r["fc6_measured_s"] for r in real if r["parts"] == 4)
    write_csv(tmp_path / "hyps_measured.csv", [{**r, "fc6_measured_s": base + 0.1 * (r["parts"] - 4)} for r in real])
    got = next(r for r in claim_rows(tmp_path) if r["claim"].startswith("inference time at 50"))
    assert f"fc6 run for real {(base + 4.6) / base:.2f}x" in got["ours"] and "adds 0.10 s per part" in got["why"]
    cuts = read_csv(tmp_path / "hyps_cuts.csv")
    write_csv(tmp_path / "hyps_cuts.csv", [{**r, "bytes_out": 2 * r["bytes_out"]} for r in cuts])
    fig11 = next(r for r in claim_rows(tmp_path) if r["claim"].startswith("partition 1"))
    assert "ships 4.0x the bytes" in fig11["why"] and "24.50 MiB" in fig11["why"]


def test_a_missing_csv_is_not_run_with_its_command(tmp_path: Path, capsys) -> None:
    _copy(tmp_path)
    (tmp_path / "hyps_layers.csv").unlink()
    text = main(["--out", str(tmp_path)])
    rows = read_csv(tmp_path / "hyps_claims_table.csv")
    fig8 = [r for r in rows if r["figure"] in ("Fig. 8", "Fig. 9")]
    assert len(fig8) == 4 and all(r["source"] == NOT_RUN and "layers --hub`" in r["ours"] for r in fig8)
    assert text == (tmp_path / "hyps_claims_table.md").read_text() and capsys.readouterr().out == text
