"""Every README table tied to a CSV (``<!-- results: ... -->`` blocks) is what its CSV renders to:
a README figure that differs from its data fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitgym.experiments.distredge_tables import summary
from splitgym.experiments.readme_figures import blocks, main, regenerate
from splitgym.experiments.readme_views import VIEWS
from splitgym.experiments.results_csv import write_csv

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_every_readme_block_equals_its_csv():
    text = README.read_text()
    tied = {"thesis", "models_extra", "nptp_speedups", "hidp_env_ppo", "bench_nptp_env", "distredge_claims"}
    assert {view for _, view, _ in blocks(text)} >= tied
    assert regenerate(text, ROOT) == text, "run: python -m splitgym.experiments.readme_figures --write"


def _readme(tmp_path: Path, body: str) -> Path:
    write_csv(tmp_path / "t.csv", [{"group": "LB_LB", "boards": b, "variant": v, "over_best_median": 1.5,
                                    "over_best_min": 1.25, "over_best_max": 2.0}
                                   for v in ("paper", "ours") for b in ("gpu", "linear")])  # fmt: skip
    path = tmp_path / "README.md"
    path.write_text(f"intro\n<!-- results: t.csv view=thesis -->\n{body}<!-- /results -->\nend\n")
    return path


def test_a_changed_figure_is_caught_and_rewritten(tmp_path: Path, capsys):
    path = _readme(tmp_path, "| stale |\n")
    assert main(["--readme", str(path), "--root", str(tmp_path)]) == 1
    assert "view=thesis (t.csv) differs from its CSV" in capsys.readouterr().out
    assert main(["--readme", str(path), "--root", str(tmp_path), "--write"]) == 0
    assert "| LB (16) | 1.500 (1.250-2.000) | 1.500 (1.250-2.000) |" in path.read_text()
    assert path.read_text().startswith("intro\n") and path.read_text().endswith("<!-- /results -->\nend\n")
    assert main(["--readme", str(path), "--root", str(tmp_path)]) == 0


def test_bad_markers_are_one_line(tmp_path: Path):
    path = _readme(tmp_path, "")
    path.write_text(path.read_text().replace("view=thesis", "view=nope"))
    with pytest.raises(SystemExit, match=r"view='nope' is unknown \(known: .*thesis"):
        main(["--readme", str(path), "--root", str(tmp_path)])
    path.write_text(path.read_text().replace("t.csv view=nope", "missing.csv view=thesis"))
    with pytest.raises(SystemExit, match="reads missing.csv, which does not exist"):
        main(["--readme", str(path), "--root", str(tmp_path)])


def test_distredge_summary_view_shows_both_variants_over_seeds():
    ratios = [
        {"run": "DB_bw300", "variant": v, "distredge_ips": x, "over_best_baseline": x, "over_aofl": 2 * x,
         "best_baseline": b, "commit": "c", "command": "cmd"}
        for v, x, b in (("paper", 1.0, "aofl"), ("paper", 1.2, "offload"), ("paper", 1.1, "aofl"),
                        ("ours", 1.3, "aofl"))
    ]  # fmt: skip
    text = VIEWS["distredge_summary"](summary(ratios))
    assert text.splitlines()[0].startswith("| group | seeds | paper: over best baseline | paper: over AOFL | ours:")
    assert "| DB_bw300 | 1,3 | 1.10 (1.00-1.20) | 2.20 (2.00-2.40) | 1.30 (1.30-1.30) | 2.60 (2.60-2.60) |" in text
    assert text.rstrip().endswith("| aofl,offload |")


def test_alpha_sweep_view_gives_ips_per_a_and_the_best_a():
    ratios = [
        {"run": f"{env}_alpha-{a}{more}", "variant": "paper", "distredge_ips": ips + seed,
         "over_best_baseline": 1.0, "over_aofl": 1.0, "best_baseline": "aofl", "commit": "c", "command": "cmd"}
        for env, more, top in (("DB_bw300", "", 0.75), ("LB_LB", "_variance-1.0", 0.25))
        for a in (0.0, 0.25, 0.5, 0.75, 1.0)
        for seed in (0, 1, 2)
        for ips in [20.0 - 10 * abs(a - top)]
    ]  # fmt: skip
    text = VIEWS["alpha_sweep"](summary(ratios))
    lines = text.splitlines()
    assert lines[0] == "| environment | a = 0 | a = 0.25 | a = 0.5 | a = 0.75 | a = 1 | best a |"
    db = "| DB 300 | 13.5 (12.5-14.5) | 16.0 (15.0-17.0) | 18.5 (17.5-19.5) | 21.0 (20.0-22.0) | 18.5 (17.5-19.5)"
    assert lines[2] == db + " | 0.75 |"
    assert lines[3].startswith("| LB LB | 18.5 (17.5-19.5) | 21.0") and lines[3].endswith("| 0.25 |")
