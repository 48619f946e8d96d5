"""Inline README figures (``<!-- v: ... -->TEXT<!-- /v -->`` spans, experiments/readme_values.py):
each one equals what its CSV renders to, and a bad span is refused in one line naming it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from splitgym.experiments.readme_figures import main
from splitgym.experiments.readme_values import evaluate, first_difference, parse, render, spans, value
from splitgym.experiments.results_csv import read_csv, seed_spread, write_csv

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

ROWS = [
    {"group": "DB_bw300", "variant": "paper", "seed": 0, "ratio": 1.10, "ms": 50.0, "best": "aofl"},
    {"group": "DB_bw300", "variant": "paper", "seed": 1, "ratio": 1.30, "ms": 40.0, "best": "offload"},
    {"group": "DB_bw300", "variant": "paper", "seed": 2, "ratio": 1.20, "ms": 45.0, "best": "aofl"},
    {"group": "DB_bw300", "variant": "ours", "seed": 0, "ratio": 1.50, "ms": 20.0, "best": "aofl"},
    {"group": "LB_LB", "variant": "paper", "seed": 0, "ratio": 0.90, "ms": 1234.5, "best": ""},
    {"group": "LB_LB", "variant": "ours", "seed": 0, "ratio": None, "ms": 900.0, "best": "aofl"},
]


def _render(args: str, rows: list[dict] = ROWS) -> str:
    return value(parse(args, line=7), rows)


def test_every_readme_span_equals_its_csv():
    text = README.read_text()
    assert len(spans(text)) >= 20
    assert first_difference(text, ROOT) is None, "run: python -m splitgym.experiments.readme_figures --write"
    assert render(text, ROOT) == text


def test_the_span_check_never_imports_torch():
    """The spans' check reads CSVs only, so it stays fast (a fresh interpreter: pytest's may hold torch)."""
    code = (
        "import sys; from pathlib import Path; from splitgym.experiments import readme_values as v; "
        f"v.render(Path({str(README)!r}).read_text(), Path({str(ROOT)!r})); print('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_parse_splits_filters_column_and_options():
    span = parse("t.csv group=DB_bw300 variant=paper 100*(1-ms/ratio) agg=median 'fmt={:.1f} %'", "x", 3)
    assert (span.csv, span.col, span.agg, span.fmt, span.text, span.line) == (
        "t.csv", "100*(1-ms/ratio)", "median", "{:.1f} %", "x", 3)  # fmt: skip
    assert span.filters == (("group", "=", "DB_bw300"), ("variant", "=", "paper"))
    assert parse("t.csv ratio>=1 best!=aofl 'group=a b' ms").filters == (
        ("ratio", ">=", "1"), ("best", "!=", "aofl"), ("group", "=", "a b"))  # fmt: skip
    assert parse("t.csv ratio").fmt == "{}" and parse("t.csv ratio").agg is None


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ("", "names no CSV"),
        ("t.csv group=x", "needs one column or expression"),
        ("t.csv a b", "needs one column or expression"),
        ("t.csv a agg=mode", "agg='mode' is unknown"),
        ("t.csv a fmt={:.2f}-{:.2f}", "needs exactly one field"),
        ("t.csv a fmt={name}", "needs exactly one field"),
        ("t.csv a fmt={:.2f", "is not a format string"),
        ("t.csv a agg=min agg=max", "agg= or fmt= twice"),
        ("t.csv 'a", "cannot split its words"),
    ],
)
def test_bad_spans_are_one_line_errors(args: str, why: str):
    with pytest.raises(SystemExit, match=f"README line 7: span <{args}>: .*{why}") as e:
        parse(args, line=7)
    assert "\n" not in str(e.value)


def test_expressions_do_arithmetic_over_columns():
    row = {"a": 3.0, "b": 4, "name": "aofl"}
    assert evaluate("a/b", row) == 0.75
    assert evaluate("100*(1-a/b)", row) == 25.0
    assert evaluate("-a+b*2-1", row) == 4.0
    assert evaluate("name", row) == "aofl"  # a plain column, even a string one, renders as it is


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("__import__('os')", "uses Call"),
        ("a.real", "uses Attribute"),
        ("abs(a)", "uses Call"),
        ("a**b", "uses Pow"),
        ("a if b else 1", "uses IfExp"),
        ("'x'", "uses Constant"),
        ("a[0]", "uses Subscript"),
        ("lambda: 1", "uses Lambda"),
        ("a/", "neither a column nor an expression"),
        ("a/c", "column c is not in the CSV"),
        ("name*2", "column name is 'aofl' in a selected row, not a number"),
        ("a/(b-4)", "divides by zero"),
    ],
)
def test_expressions_refuse_anything_but_arithmetic(expr: str, why: str):
    with pytest.raises(SystemExit, match=why):
        evaluate(expr, {"a": 3.0, "b": 4, "name": "aofl"})


def test_filters_select_and_agg_reduces():
    assert _render("t.csv group=DB_bw300 variant=ours ratio fmt={:.2f}x") == "1.50x"
    assert _render("t.csv group=DB_bw300 variant=paper ratio agg=median fmt={:.2f}x") == "1.20x"
    assert _render("t.csv group=DB_bw300 variant=paper ratio agg=min fmt={:.2f}") == "1.10"
    assert _render("t.csv group=DB_bw300 variant=paper ratio agg=max fmt={:.2f}") == "1.30"
    assert _render("t.csv variant=paper ms agg=mean fmt={:.1f}") == f"{(50 + 40 + 45 + 1234.5) / 4:.1f}"
    assert _render("t.csv group=DB_bw300 ratio agg=count") == "4"
    assert _render("t.csv ratio agg=count") == "6"  # count counts rows, an empty cell too
    assert _render("t.csv variant=ours ratio agg=max fmt={:.2f}") == "1.50"  # an agg skips the empty cell
    assert _render("t.csv variant=ours 100*ratio agg=min fmt={:.0f}") == "150"
    assert _render("t.csv seed=1 best") == "offload"
    assert _render("t.csv seed=1.0 best") == "offload"  # a number matches its own spelling
    assert _render("t.csv group=LB_LB variant=paper ms fmt={:,.0f}") == "1,234"
    assert _render("t.csv group=DB_bw300 variant=ours 100*(1-ms/50) fmt={:.1f}%") == "60.0%"
    assert _render("t.csv group=LB_LB variant=paper best") == ""  # an empty cell renders as read (None -> "")


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ("t.csv group=DB_bw300 ratio", "4 rows match; add filters or agg="),
        ("t.csv group=nope ratio", "no row of t.csv matches"),
        ("t.csv colour=red ratio", "filter column colour is not in the CSV"),
        ("t.csv group=DB_bw300 seed=0 variant=ours speed", "column speed is not in the CSV"),
        ("t.csv group=DB_bw300 best agg=median", "agg=median needs numbers"),
        ("t.csv seed=1 best fmt={:.2f}", "cannot format 'offload'"),
        ("t.csv group=LB_LB variant=ours ratio", "column ratio is empty in the selected row"),
        ("t.csv group=LB_LB variant=ours ratio/ms", "column ratio is empty in the selected row"),
        ("t.csv group=LB_LB variant=ours ratio agg=median", "ratio is empty in every selected row"),
        ("t.csv group=LB_LB speed agg=count", "column speed is not in the CSV"),
    ],
)
def test_selection_errors_name_the_span(args: str, why: str):
    with pytest.raises(SystemExit, match=f"README line 7: span <t.csv.*>: .*{why}") as e:
        _render(args)
    assert "\n" not in str(e.value)
    with pytest.raises(SystemExit, match="t.csv has no rows"):
        _render("t.csv ratio", [])


def _readme(tmp_path: Path, line: str) -> Path:
    write_csv(tmp_path / "t.csv", ROWS, command="test")
    path = tmp_path / "README.md"
    path.write_text(f"intro\n\n{line}\nend\n")
    return path


def test_check_names_the_first_stale_span_and_write_mends_it(tmp_path: Path, capsys):
    span = "<!-- v: t.csv group=DB_bw300 variant=paper ratio agg=median fmt={:.2f}x -->TEXT<!-- /v -->"
    count = "<!-- v: t.csv ms agg=count -->6<!-- /v -->"
    path = _readme(tmp_path, f"DB: {span.replace('TEXT', '1.19x')} over the best; count {count}.")
    assert main(["--readme", str(path), "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "README line 3: span <t.csv group=DB_bw300 variant=paper ratio> reads '1.19x', its CSV gives '1.20x'" in out
    assert main(["--readme", str(path), "--root", str(tmp_path), "--write"]) == 0
    assert path.read_text() == f"intro\n\nDB: {span.replace('TEXT', '1.20x')} over the best; count {count}.\nend\n"
    assert main(["--readme", str(path), "--root", str(tmp_path)]) == 0
    assert "0 blocks and 2 spans match their CSVs" in capsys.readouterr().out


def test_documentation_and_broken_markers(tmp_path: Path):
    doc = "syntax: `<!-- v: CSV KEY=VALUE COL -->TEXT<!-- /v -->`\n```\n<!-- v: nope.csv x -->1<!-- /v -->\n```\n"
    assert spans(doc) == [] and render(doc, tmp_path) == doc
    wrapped = "(`python -m x\n--flag`, 1 <!-- v: t.csv ratio -->2<!-- /v -->)\n\n`a` <!-- v: u.csv b -->3<!-- /v -->"
    assert [(s.line, s.csv) for s in spans(wrapped)] == [(2, "t.csv"), (4, "u.csv")]  # code over two lines ends
    with pytest.raises(SystemExit, match="README line 3: a span opens with '<!-- v:' but does not close"):
        spans("a\nb\nsee <!-- v: t.csv ratio -->1.2\n<!-- /v -->\n")
    path = _readme(tmp_path, "<!-- v: missing.csv ratio -->1<!-- /v -->")
    with pytest.raises(SystemExit, match=r"README line 3: span <missing.csv ratio>: missing.csv does not exist"):
        main(["--readme", str(path), "--root", str(tmp_path)])


def test_a_span_over_seed_rows_equals_the_summary_row(tmp_path: Path):
    """The re-made DistrEdge tables write per-seed rows (``<table>_ratios.csv``) and their
    ``seed_spread`` (``<table>_summary.csv``): agg over the first gives the second's cells."""
    ratios = [
        {"run": "DB_bw300", "seed": s, "variant": "paper", "over_best_baseline": x, "over_aofl": 2 * x}
        for s, x in enumerate((1.0, 1.26, 1.11))
    ]
    write_csv(tmp_path / "table1_ratios.csv", ratios, command="test")
    write_csv(
        tmp_path / "table1_summary.csv",
        seed_spread(ratios, ("run", "variant"), ("over_best_baseline",)),
        command="test",
    )
    for agg in ("median", "min", "max"):
        per_seed = (
            f"<!-- v: table1_ratios.csv run=DB_bw300 variant=paper over_best_baseline agg={agg} fmt={{:.2f}}x -->"
        )
        summary = f"<!-- v: table1_summary.csv run=DB_bw300 variant=paper over_best_baseline_{agg} fmt={{:.2f}}x -->"
        text = render(f"{per_seed}?<!-- /v --> {summary}?<!-- /v -->\n", tmp_path)
        assert text.count({"median": "1.11x", "min": "1.00x", "max": "1.26x"}[agg]) == 2, text


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ("t.csv ratio>1.2 ratio agg=count", "2"),  # 1.30 and 1.50; the empty cell passes no comparison
        ("t.csv ratio>=1.2 ratio agg=count", "3"),
        ("t.csv ratio<1.2 ratio agg=count", "2"),
        ("t.csv ratio<=1.1 ratio agg=count", "2"),
        ("t.csv ms>=1000 group", "LB_LB"),  # 1234.5 > 1000 as numbers ('1234.5' < '900' as text)
        ("t.csv ms<100 ms agg=max fmt={:.0f}", "50"),
        ("t.csv variant!=paper ms agg=count", "2"),
        ("t.csv best!=aofl seed agg=count", "2"),  # 'offload' and the empty cell
        ("t.csv seed!=0.0 seed agg=count", "2"),  # a number differs from its own spelling neither
        ("t.csv group=DB_bw300 ratio>1.1 ratio<1.5 ms agg=min fmt={:.0f}", "40"),
        ("t.csv ratio>-1e9 ratio agg=count", "5"),
    ],
)
def test_comparison_filters_compare_numbers_as_numbers(args: str, want: str):
    assert _render(args) == want


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ("t.csv best>1 ratio agg=count", "filter best>1: column best is 'aofl' in a row, not a number"),
        ("t.csv ratio>abc ratio agg=count", "filter ratio>abc compares with 'abc', not a number"),
        ("t.csv speed<3 ratio agg=count", "filter column speed is not in the CSV"),
        ("t.csv ratio>9 ratio agg=count", "no row of t.csv matches"),
    ],
)
def test_comparison_filter_errors_are_one_line(args: str, why: str):
    with pytest.raises(SystemExit, match=f"README line 7: span <t.csv .*>: {why}") as e:
        _render(args)
    assert "\n" not in str(e.value)


LETS = (
    "<!-- let: best = t.csv group=DB_bw300 variant=paper ratio agg=max -->"
    "<!-- let: base = t.csv group=DB_bw300 variant=paper ratio agg=min -->\n"
    "best over base: <!-- v: = best/base fmt={:.2f}x -->?<!-- /v -->,"
    " gain <!-- v: = 100 * (best - base) / base 'fmt={:.0f} %' -->?<!-- /v -->\n"
    "<!-- let: over = t.csv ratio>1.2 ratio agg=count --><!-- let: all = t.csv ratio agg=count -->"
    "<!-- v: = over fmt={:.0f} -->?<!-- /v --> of <!-- v: = all -->?<!-- /v -->\n"
)


def test_lets_define_names_and_expression_spans_render_them(tmp_path: Path):
    write_csv(tmp_path / "t.csv", ROWS, command="test")
    text = render(LETS, tmp_path)
    assert text.splitlines()[1:] == [
        "best over base: <!-- v: = best/base fmt={:.2f}x -->1.18x<!-- /v -->,"
        " gain <!-- v: = 100 * (best - base) / base 'fmt={:.0f} %' -->18 %<!-- /v -->",
        "<!-- let: over = t.csv ratio>1.2 ratio agg=count --><!-- let: all = t.csv ratio agg=count -->"
        "<!-- v: = over fmt={:.0f} -->2<!-- /v --> of <!-- v: = all -->6<!-- /v -->",
    ]
    assert text.splitlines()[0] == LETS.splitlines()[0]  # a let renders nothing and stays as written
    assert [s.csv for s in spans(text)] == ["=", "=", "=", "="]
    assert first_difference(text, tmp_path) is None
    assert first_difference(LETS, tmp_path) == "README line 2: span <= best/base> reads '?', its CSV gives '1.18x'"
    # a let may itself be an expression over names defined above it
    chained = LETS + "<!-- let: ratio2 = = best/base*2 --><!-- v: = ratio2 fmt={:.2f} -->?<!-- /v -->\n"
    assert render(chained, tmp_path).endswith("-->2.36<!-- /v -->\n")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("<!-- v: = a/2 -->1<!-- /v -->", "README line 1: span <= a/2>: name a is not defined above this line"),
        (
            "<!-- v: = a -->1<!-- /v --><!-- let: a = t.csv seed=1 ratio -->",
            "README line 1: span <= a>: name a is not defined above this line",
        ),
        (
            "<!-- let: a = t.csv seed=1 ratio -->\n\n<!-- let: a = t.csv seed=2 ratio -->",
            "README line 3: let a: a is already defined on README line 1",
        ),
        ("<!-- let: a = t.csv seed=1 best --><!-- v: = a*2 -->1<!-- /v -->", "name a is 'offload' in a selected row"),
        ("<!-- let: a = t.csv seed=1 ratio fmt={:.2f} -->", "README line 1: let <.*>: a let renders nothing"),
        ("<!-- let: 2a = t.csv seed=1 ratio -->", "README line 1: let <.*>: needs 'NAME = CSV"),
        ("<!-- let: a = t.csv ratio -->", "README line 1: span <t.csv ratio>: 6 rows match"),
        ("<!-- let: a = t.csv seed=1 ratio\n-->", "README line 1: a let opens with '<!-- let:' but does not end"),
        ("<!-- v: = a agg=max -->1<!-- /v -->", "an expression over named values takes fmt= only"),
        ("<!-- v: = -->1<!-- /v -->", "names no expression"),
        ("<!-- v: = a.b -->1<!-- /v -->", "uses Attribute"),
    ],
)
def test_undefined_and_redefined_names_are_one_line_errors(tmp_path: Path, text: str, why: str):
    write_csv(tmp_path / "t.csv", ROWS, command="test")
    with pytest.raises(SystemExit, match=why) as e:
        render(text + "\n", tmp_path)
    assert "\n" not in str(e.value)


def test_a_let_in_code_is_documentation(tmp_path: Path):
    doc = "`<!-- let: a = nope.csv x -->` and\n```\n<!-- let: a = nope.csv x -->\n```\n"
    assert render(doc, tmp_path) == doc


def test_a_changed_csv_changes_the_rendered_figure(tmp_path: Path):
    """The README's own spans and lets, over a copy of one CSV with a row changed: the check
    names the figure that moved and --write renders the new value."""
    text = README.read_text()
    lets = [m for m in re.finditer(r"<!-- let: (\w+) = (\S+) ", text)]
    assert lets, "the README defines no named values"
    csv = lets[0][2]
    rows = read_csv(ROOT / csv)
    shutil.copytree(  # the CSVs, not the (ignored) training runs a working checkout keeps there
        ROOT / "experiments" / "results",
        tmp_path / "experiments" / "results",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("runs"),
    )
    for r in rows:  # every number moved (x -> 2x + 1), so each figure the lets feed moves too
        for k, v in r.items():
            if isinstance(v, float) and k not in ("seed",):
                r[k] = v * 2 + 1
    write_csv(tmp_path / csv, rows, command="test")
    readme = tmp_path / "README.md"
    readme.write_text(text)
    assert first_difference(text, tmp_path) is not None
    assert main(["--readme", str(readme), "--root", str(tmp_path), "--write"]) == 0
    assert readme.read_text() != text
    assert first_difference(readme.read_text(), tmp_path) is None
