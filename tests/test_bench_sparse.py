"""experiments/bench_sparse.py: both transfer pricers on the same batches, equal, and its arguments."""

from __future__ import annotations

import pytest

from splitgym.experiments.bench_sparse import cluster_of, main


@pytest.mark.slow  # builds VGG-16 and times each variant for >= 0.1 s
def test_rows_per_device_count_with_equal_latencies(capsys: pytest.CaptureFixture[str]) -> None:
    rows = main(["--devices", "4,20", "--batch", "8", "--repeats", "1"])
    assert [r["n_devices"] for r in rows] == [4, 20]
    for r in rows:
        assert r["equal"] is True
        assert r["dense_us_per_plan"] > 0 and r["sparse_us_per_plan"] > 0
        assert r["dense_over_sparse"] == pytest.approx(r["dense_us_per_plan"] / r["sparse_us_per_plan"])
    assert '"n_devices": 20' in capsys.readouterr().out


def test_the_cluster_alternates_boards() -> None:
    c = cluster_of(5)
    assert c.size == 5 and [d.board for d in c.devices][:3] == ["xavier", "nano", "xavier"]


@pytest.mark.parametrize("argv", [["--devices", "8,x"], ["--devices", "0"], ["--batch", "0"]])
def test_bad_arguments_are_refused_in_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("usage:") is False and ("--devices" in err or "--batch" in err)
