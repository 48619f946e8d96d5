"""NPTP's claims table (experiments/nptp_claims.py): every row names its CSV or "not run" with a
command, every figure of the evaluation is covered, ours and the why follow the CSVs (the shipped table
and README block: tests/test_claims_tables.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from splitgym.experiments.claims_table import NOT_RUN
from splitgym.experiments.nptp_claims import COMMANDS, claim_rows, main
from splitgym.experiments.nptp_claims_more import cut_length
from splitgym.experiments.results_csv import read_csv, write_csv

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"


def test_every_row_names_its_csv_or_not_run_and_every_figure_is_covered() -> None:
    rows = claim_rows(RESULTS)
    for r in rows:
        assert r["paper"] and r["claim"] and r["why"], r
        if r["source"] == NOT_RUN:
            assert r["ours"].startswith("not run: `python -m splitgym.experiments.nptp_tables"), r
        else:
            assert all((RESULTS / n).exists() for n in r["source"].split(", ")), r
    figures = [r["figure"] for r in rows]
    assert {"Fig. 4", "Fig. 5", "Fig. 6", "Sec. III-D", "Sec. IV", "Abstract"} <= set(figures)
    assert figures.count("Fig. 4") == 5 and figures.count("Fig. 6") == 3  # per model + the trend
    assert {c for r in rows for c in r["source"].split(", ") if c != NOT_RUN} <= set(COMMANDS)


def _copy(tmp_path: Path) -> None:
    for path in RESULTS.glob("nptp_*.csv"):
        if not path.name.startswith("nptp_claims"):
            shutil.copy(path, tmp_path / path.name)


def test_ours_and_why_follow_the_csv(tmp_path: Path) -> None:
    """VGG11 made 1.25x faster than the strips with no scatter: inside the paper's 1.22-1.31x, 0% scatter."""
    _copy(tmp_path)
    rows = read_csv(tmp_path / "nptp_bandwidth.csv")
    for r in rows:
        if r["model"] == "vgg11":
            r["speedup"], r["nptp_scatter_ms"] = 1.25, 0.0
    write_csv(tmp_path / "nptp_bandwidth.csv", rows)
    before = next(r for r in claim_rows(RESULTS) if r["claim"].startswith("VGG11: NPTP"))
    got = next(r for r in claim_rows(tmp_path) if r["claim"].startswith("VGG11: NPTP"))
    assert got["ours"].startswith("end-to-end 1.25x vs the best strips") and got["ours"] != before["ours"]
    assert "end-to-end inside" in got["why"] and "the scatter is 0% of NPTP's" in got["why"]
    assert "VGG16 4096" in next(r for r in claim_rows(RESULTS) if r["figure"] == "Sec. IV")["why"]
    for name in ("nptp_sizes.csv", "nptp_sizes_eq9.csv"):
        sizes = read_csv(tmp_path / name)
        write_csv(tmp_path / name, [{**r, "coedge_lp_feasible": True} for r in sizes])
    memory = next(r for r in claim_rows(tmp_path) if r["figure"] == "Sec. IV")
    assert "CoEdge LP 20 of 20" in memory["ours"] and memory["why"] == "every plan within the caps"


def test_a_missing_csv_is_not_run_with_its_command(tmp_path: Path, capsys) -> None:
    _copy(tmp_path)
    (tmp_path / "nptp_gap_eq9.csv").unlink()
    text = main(["--out", str(tmp_path)])
    gap = next(r for r in read_csv(tmp_path / "nptp_claims.csv") if r["claim"] == "MPA finds the optimal partition")
    assert gap["source"] == NOT_RUN and f"`{COMMANDS['nptp_gap_eq9.csv']}`" in gap["ours"]
    assert text == (tmp_path / "nptp_claims.md").read_text() and capsys.readouterr().out == text


def test_cut_length_is_the_shared_boundary() -> None:
    """Fig. 2's 6x6 map: three strips share two cuts of 6 px; the T layout 6 + 3 px."""
    assert cut_length("a:0-2;b:2-4;c:4-6", 6) == 12
    assert cut_length("a:0-3x0-6;b:3-6x0-3;c:3-6x3-6", 6) == 9
