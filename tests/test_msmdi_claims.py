"""The README's MS-MDI claims and joining/leaving tables are the ones the committed CSVs give."""

from __future__ import annotations

from pathlib import Path

from splitgym.experiments.msmdi_claims import claims_markdown
from splitgym.experiments.results_csv import read_csv

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"


def test_claims_table_is_generated_from_the_csvs_and_quoted_in_the_readme():
    text = claims_markdown(RESULTS)
    assert text == (RESULTS / "msmdi_claims.md").read_text()
    readme = (ROOT / "README.md").read_text()
    assert text.strip() in readme
    assert "| 3 workers: MS-MDI vs AR-MDI | +20% |" in text  # the paper's figure beside ours


def test_readme_joining_leaving_rows_match_the_csv():
    readme = (ROOT / "README.md").read_text()
    rows = read_csv(RESULTS / "msmdi_dynamic.csv")
    assert len(rows) == 5
    for r in rows:
        cells = " | ".join(
            f"{r[p + '_s']:.0f} ({r[p + '_restarts']:g})" for p in ("ms-mdi", "ar-mdi", "local", "ms-mdi-mw")
        )
        assert f"| {cells} |" in readme, r["case"]
