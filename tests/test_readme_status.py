"""The README's results-status block: it names the quoted CSVs whose rows the code on main did not
make, and reads "made by the code on main" only when none are."""

from __future__ import annotations

from pathlib import Path

from splitgym.costmodels.provenance import REPO, commit_stamp
from splitgym.experiments.dependencies import module_of, paths_of
from splitgym.experiments.readme_figures import main
from splitgym.experiments.readme_status import quoted, status_text
from splitgym.experiments.results_csv import write_csv

CMD = "python -m splitgym.experiments.lcpss_samples"


def _csv(path: Path, commit: str, n: int = 2) -> None:
    write_csv(path, [{"k": i, "v": 1.5, "commit": commit, "command": CMD} for i in range(n)])


def _fresh() -> str:
    return commit_stamp(paths_of(module_of(CMD)), REPO)


def test_quoted_reads_spans_lets_and_blocks_but_not_code() -> None:
    text = (
        "a <!-- v: r/a.csv k=0 v -->1.5<!-- /v --> `<!-- v: r/code.csv k=0 v -->1<!-- /v -->` "
        "<!-- let: x = r/b.csv v agg=max --> <!-- v: = x -->1.5<!-- /v -->\n"
    )
    assert quoted(text, ["r/c.csv", "r/a.csv"]) == ["r/a.csv", "r/b.csv", "r/c.csv"]


def test_status_names_unknown_rows_and_says_fresh_when_none(tmp_path: Path) -> None:
    _csv(tmp_path / "a.csv", _fresh())
    _csv(tmp_path / "b.csv", "unknown", 3)
    text = status_text(["a.csv", "b.csv"], tmp_path)
    assert text.startswith("1 of the 2 CSVs this README quotes") and "`b.csv` (3 unknown of 3 rows)" in text
    assert "a.csv" not in text.replace("b.csv", "")
    assert status_text(["a.csv"], tmp_path).startswith("Every one of the 1 CSVs this README quotes was made")


def test_a_status_block_left_behind_fails_the_check_until_written(tmp_path: Path, capsys) -> None:
    _csv(tmp_path / "a.csv", _fresh())
    path = tmp_path / "README.md"
    path.write_text(
        "x <!-- v: a.csv k=0 v -->1.5<!-- /v -->\n<!-- results-status -->\nall fresh\n<!-- /results-status -->\n"
    )
    assert main(["--readme", str(path), "--root", str(tmp_path)]) == 1
    assert "results-status block" in capsys.readouterr().out
    assert main(["--readme", str(path), "--root", str(tmp_path), "--write"]) == 0
    assert "Every one of the 1 CSVs" in path.read_text()
    _csv(tmp_path / "a.csv", "unknown")  # the CSV is made again by code of no known commit
    assert main(["--readme", str(path), "--root", str(tmp_path)]) == 1
    main(["--readme", str(path), "--root", str(tmp_path), "--write"])
    assert "`a.csv` (2 unknown of 2 rows)" in path.read_text()
