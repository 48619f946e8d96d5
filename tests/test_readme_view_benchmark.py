"""``view=benchmark``: splitgym benchmark's aggregate made again from its CSV, the same every time."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from splitgym.experiments.readme_view_benchmark import aggregate_rows, benchmark
from splitgym.experiments.readme_views import VIEWS
from splitgym.experiments.results_csv import read_csv

RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"


def _md_points(md: Path) -> dict[str, tuple[float, float, list[str]]]:
    """IQM, mean and the group means per target from a benchmark.md's aggregate table."""
    out = {}
    for line in md.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) > 5 and re.match(r"^\d\.\d{3} \[", cells[3]):
            out[cells[0]] = (float(cells[3].split()[0]), float(cells[4].split()[0]), cells[5:-1])
    return out


@pytest.mark.parametrize("part", ["test", "val"])
def test_points_equal_the_benchmark_s_own_markdown(part: str) -> None:
    rows = read_csv(RESULTS / f"generalization_{part}.csv")
    md = _md_points(RESULTS / f"generalization_{part}.md")
    got = aggregate_rows(rows)
    assert [a["target"] for a in got] == list(md)
    for a in got:
        iqm, mean, groups = md[a["target"]]
        assert (round(a["IQM"], 3), round(a["mean"], 3)) == (iqm, mean)
        assert a["IQM_lo"] <= a["IQM"] + 1e-12 and a["IQM"] <= a["IQM_hi"] + 1e-12
        assert [f"{a[f'mean_{g}']:.3f}" for g in ("none", "model", "cluster", "bandwidth") if a[f"mean_{g}"]] == [
            g for g in groups if g != "-"
        ][:4]


def test_the_table_is_the_same_every_time_and_leaves_numpy_s_state_alone() -> None:
    rows = [
        {"target": "t", "seed": s, "instance": f"i{j}", "held_out": "model" if j else "none",
         "latency_ms": 10.0 + s + j, "score": 0.5 + 0.1 * s + 0.05 * j}
        for s in range(3) for j in range(4)
    ]  # fmt: skip
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    first = VIEWS["benchmark"](rows)
    assert np.random.random() == before  # the view's seeding is undone
    assert benchmark(rows) == first
    line = first.splitlines()[2]
    assert line.startswith("| t | 3 | ") and "| 0.600 | 0.700 | 12.50 |" in line  # mean none, mean model, median ms
    lo, hi = map(float, re.search(r"\[(\S+), (\S+)\]", line).groups())
    assert lo < hi  # three seeds: a real interval


@pytest.mark.parametrize("family", ["msmdi", "hidp", "nptp"])
def test_instances_table_equals_the_benchmark_s_own(family: str) -> None:
    """The per-instance medians are the second table of the ``.md`` the same run wrote."""
    md = (RESULTS / f"split_bench_{family}.md").read_text()
    got = VIEWS["benchmark_instances"](read_csv(RESULTS / f"split_bench_{family}.csv"))
    assert got.strip() in md
    assert len(got.splitlines()) == 2 + len({r["instance"] for r in read_csv(RESULTS / f"split_bench_{family}.csv")})
