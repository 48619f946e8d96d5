"""The DistrEdge experiment script, reduced: two rows of Table I on a small model, a few episodes;
and where every experiment script writes: its ``--out``, by default under the working directory,
never inside the package."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from splitgym.experiments.distredge_tables import TABLES, main, run_name


def test_tables_define_the_papers_groups():
    names = {t: [run_name(*row) for row in rows] for t, rows in TABLES.items()}
    assert names["table1"] == ["DA_bw50", "DA_bw300", "DB_bw50", "DB_bw300", "DC_bw50", "DC_bw300"]
    assert len(names["table2"]) == 8 and len(names["table3"]) == 4
    assert len(names["alpha"]) == 20  # 5 values of a x 4 environments (DE L262-L264)


def test_reduced_table1_writes_csv_png_and_ratios(tmp_path: Path):
    main(
        ["table1", "--episodes", "8", "--model", "vgg11", "--input", "64", "--out", str(tmp_path)]
        + ["--only", "DB_bw300", "--seeds", "0"]
    )
    rows = list(csv.DictReader((tmp_path / "table1.csv").open()))
    runs = {r["run"] for r in rows}
    assert runs == {"DB_bw300"}
    methods = {r["method"] for r in rows}
    assert {
        "distredge",
        "distredge-ours",
        "equal",
        "coedge",
        "modnn",
        "mednn",
        "deepthings",
        "deeperthings",
        "aofl",
        "offload",
    } <= methods
    for r in rows:
        assert float(r["ips"]) > 0 and abs(float(r["ips"]) * float(r["latency_ms"]) - 1e3) < 1e-6
    ratios = list(csv.DictReader((tmp_path / "table1_ratios.csv").open()))
    assert len(ratios) == 2 and all(float(r["over_aofl"]) > 0 for r in ratios)
    assert {(r["run"], r["variant"]) for r in ratios} == {(g, v) for g in runs for v in ("paper", "ours")}
    ours = (tmp_path / "runs" / "table1-ours" / "DB_bw300" / "seed0" / "config.yaml").read_text()
    assert "action: shares" in ours and "partition: pilot-search" in ours and "anchor_every: 10" in ours
    summary = json.loads(
        (tmp_path / "runs" / "table1-ours" / "DB_bw300" / "seed0" / "export" / "summary.json").read_text()
    )
    ours_row = next(r for r in rows if r["method"] == "distredge-ours")
    assert float(ours_row["start_latency_ms"]) == pytest.approx(summary["pilot"]["latency_ms"])
    assert (tmp_path / "table1.png").stat().st_size > 1000
    # a second call reuses the finished runs
    before = (tmp_path / "runs" / "table1" / "DB_bw300" / "seed0" / "export" / "summary.json").stat().st_mtime
    main(["table1", "--out", str(tmp_path), "--only", "DB_bw300", "--variants", "paper", "--seeds", "0"])
    assert (tmp_path / "runs" / "table1" / "DB_bw300" / "seed0" / "export" / "summary.json").stat().st_mtime == before
    # ... and keeps the rows of the variant it did not run (merge with the table's CSV)
    again = list(csv.DictReader((tmp_path / "table1.csv").open()))
    assert [r["method"] for r in again] == [r["method"] for r in rows]
    assert next(r for r in again if r["method"] == "distredge-ours") == ours_row
    assert len(list(csv.DictReader((tmp_path / "table1_ratios.csv").open()))) == 2


def test_reduced_dynamic_experiment(tmp_path: Path):
    import json

    from splitgym.experiments.distredge_dynamic import main as dynamic

    dynamic(["--minutes", "41", "--episodes", "12", "--retune", "4", "--out", str(tmp_path)])
    rows = list(csv.DictReader((tmp_path / "dynamic.csv").open()))
    assert {r["method"] for r in rows} == {"distredge", "distredge-ours", "aofl", "coedge"}
    assert len(rows) == 41 * 4 and len({r["mean_mbps"] for r in rows}) > 5  # the links change
    summary = json.loads((tmp_path / "dynamic_summary.json").read_text())
    assert [r["minute"] for r in summary["replans"]] == [0, 20, 40]
    assert all(
        r["distredge_tune_s"] > 0 and r["distredge-ours_tune_s"] > 0 and r["aofl_search_s"] > 0
        for r in summary["replans"]
    )
    assert summary["distredge-ours_over_aofl"] > 0
    assert (tmp_path / "dynamic.png").exists()
    # the summary's re-plan times again as stamped rows, one per (minute, method)
    from splitgym.experiments.results_csv import read_csv

    table = {(r["minute"], r["method"]): r for r in read_csv(tmp_path / "dynamic_summary.csv")}
    assert len(table) == 3 * 3
    for rep in summary["replans"]:
        for key in ("distredge_tune_s", "distredge-ours_tune_s", "aofl_search_s"):
            row = table[(rep["minute"], key.rsplit("_", 2)[0])]
            assert row["seconds"] == rep[key] and row["load"] == round(rep["load"], 2)
            assert row["commit"] != "unknown" and "pytest" in row["command"]


def test_reduced_lcpss_samples_sweep(tmp_path: Path):
    from splitgym.experiments.lcpss_samples import SAMPLES
    from splitgym.experiments.lcpss_samples import main as sweep

    sweep(["--scenario", "vgg11-DB-300-small", "--repeats", "3", "--probe", "50", "--out", str(tmp_path)])
    rows = list(csv.DictReader((tmp_path / "lcpss_samples.csv").open()))
    assert [int(r["samples"]) for r in rows] == list(SAMPLES)
    for r in rows:
        assert 1 <= int(r["distinct_partitions"]) <= 3 and 0 < float(r["modal_share"]) <= 1
        assert float(r["proxy_ips_mean"]) > 0


def test_run_names_are_safe_in_hydra_overrides():
    for rows in TABLES.values():
        for row in rows:
            name = run_name(*row)
            assert "=" not in name and "," not in name and " " not in name, name


# -- where the scripts write ---------------------------------------------------------------------
EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


def _package_files() -> dict[str, int]:
    """Every file under the installed ``splitgym.experiments`` package, with its mtime: a script
    that wrote next to its module (inside a non-editable install) changes this."""
    import splitgym.experiments

    root = Path(splitgym.experiments.__file__).parent
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_no_script_defaults_its_output_next_to_its_module():
    """Output folders are arguments (default ``experiments/results`` under the working directory),
    never ``Path(__file__).parent / "results"``."""
    scripts = list(EXPERIMENTS.glob("*.py"))
    assert scripts
    assert [p.name for p in scripts if "Path(__file__)" in p.read_text()] == []


def test_hidp_sensitivity_run_writes_under_out_and_leaves_the_efficiency_table(tmp_path: Path, monkeypatch):
    """``--gpu-efficiency`` reaches the nodes as a parameter: the run writes only under ``--out``
    (its own sub-folder), nothing in the package or the working directory, and the shared
    ``EFFICIENCY`` table is the same afterwards (the script used to overwrite it)."""
    from splitgym.costmodels.nodes.node_processors import EFFICIENCY
    from splitgym.experiments import hidp_tables

    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    table, before = dict(EFFICIENCY), _package_files()
    assert hidp_tables.main(["--quick", "--motivation-only", "--gpu-efficiency", "0.1", "--out", str(out)]) == 0
    assert _files(out) == {"hidp_gpu_eff_0.1/hidp_motivation.csv"}
    assert _files(cwd) == set() and _package_files() == before
    assert EFFICIENCY == table
    rows = list(csv.DictReader((out / "hidp_gpu_eff_0.1" / "hidp_motivation.csv").open()))
    assert [r["model"] for r in rows] == hidp_tables.MODELS[:2]
    assert all(float(r["hidp_local_ms"]) <= float(r["p1_gpu_only_ms"]) for r in rows)


def test_default_output_is_under_the_working_directory(tmp_path: Path, monkeypatch):
    """Without ``--out`` a script writes to ``experiments/results`` under the working directory
    (the checkout, through ``make``), not next to its module."""
    from splitgym.experiments import msmdi_tables

    monkeypatch.chdir(tmp_path)
    before = _package_files()
    msmdi_tables.main(
        ["--scenarios", "ms-mdi-3-small", "--seeds", "1", "--networks", "bw100", "--weights", "params", "--image-s"]
    )
    assert _files(tmp_path) == {
        f"experiments/results/msmdi_{n}" for n in ("total.csv", "improvement.csv", "curves.csv")
    } | {"experiments/results/msmdi.png"}
    assert _package_files() == before
