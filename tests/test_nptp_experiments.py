"""The NPTP experiment script on a tiny case: one comparison row, consistent with its plans."""

from __future__ import annotations

import pytest

from splitgym.experiments.nptp_tables import compare


def test_compare_row_is_consistent():
    r = compare("vgg11", 64, 0.5, iterations=60, grid=8)
    assert r["speedup"] == pytest.approx(r["coedge_ms"] / r["nptp_ms"])
    assert r["comm_reduction"] == pytest.approx(r["coedge_MB"] / r["nptp_MB"])
    assert r["nptp_feasible"] and r["coedge_feasible"]
    assert r["mpa_evaluations"] == 4 * 60 + 4
    # CoEdge's tiles are full-width strips, one per device
    assert len(r["coedge_tiles"].split(";")) == 3
