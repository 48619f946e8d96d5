"""The claims tables of NPTP, HyPS and HiDP (experiments/claims_table.py): each shipped table, its
CSV as the README block renders it, and the README quote what the module builds from the CSVs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from splitgym.experiments import hidp_claims_table, hyps_claims_table, nptp_claims
from splitgym.experiments.claims_table import span, verdict
from splitgym.experiments.readme_views import VIEWS
from splitgym.experiments.results_csv import read_csv

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
TABLES = [
    ("nptp_claims", nptp_claims.claim_rows),
    ("hyps_claims_table", hyps_claims_table.claim_rows),
    ("hidp_claims_table", hidp_claims_table.claim_rows),
]


@pytest.mark.parametrize(("name", "build"), TABLES, ids=[n for n, _ in TABLES])
def test_shipped_table_and_readme_are_what_the_csvs_give(name: str, build: Callable[[Path], list]) -> None:
    text = VIEWS["claims"](build(RESULTS))
    assert text == (RESULTS / f"{name}.md").read_text()
    assert text == VIEWS["claims"](read_csv(RESULTS / f"{name}.csv"))  # the README block's renderer
    readme = (ROOT / "README.md").read_text()
    assert f"<!-- results: experiments/results/{name}.csv view=claims -->\n{text}<!-- /results -->" in readme


def test_span_and_verdict() -> None:
    assert span([1.2, 1.25]) == "1.20-1.25" and span([1.3]) == "1.30" and span([]) == "-"
    assert verdict([1.3], 1.22, 1.31) == "inside" and verdict([1.1, 1.3], 1.22, 1.31) == "overlapping"
    assert verdict([1.1], 1.22, 1.31) == "below" and verdict([1.4, 1.5], 1.22, 1.31) == "above"


def test_claims_view_escapes_pipes_and_keeps_empty_cells() -> None:
    text = VIEWS["claims"]([{"figure": "Fig. 1", "claim": "a | b", "paper": None, "ours": "x", "commit": "c"}])
    assert text.splitlines()[0] == "| figure | claim | paper | ours |"
    assert text.splitlines()[2] == "| Fig. 1 | a \\| b | | x |"
