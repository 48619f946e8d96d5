"""Device profiles: interpolation, files, fitted and derived variants, and measuring a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from splitgym.costmodels.boards import BOARDS
from splitgym.costmodels.errors import ConfigError, ProfileError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.profiler import height_grid, profile_model
from splitgym.costmodels.profiles import (
    PROFILE_VERSION,
    DeviceProfile,
    UnitTable,
    derive,
    load_or_measure,
    profile_for,
)

from .helpers import synthetic_profile


@pytest.fixture(scope="module")
def local(vgg16: ModelGraph) -> DeviceProfile:
    """The shipped measured CPU profile of VGG-16 (the session's cache is empty)."""
    return load_or_measure(vgg16, "cpu", progress=False)


@pytest.fixture(scope="module")
def tiny() -> ModelGraph:
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 2),
    )
    return ModelGraph.from_module(m, (3, 16, 16), name="tiny")


@pytest.fixture(scope="module")
def tiny_profile(tiny: ModelGraph) -> DeviceProfile:
    return profile_model(tiny, device="cpu", granularity=5, min_run_time=0.002, progress=False)


def _one_line(info: pytest.ExceptionInfo[BaseException]) -> str:
    msg = str(info.value)
    assert msg and "\n" not in msg, f"not one line: {msg!r}"
    return msg


# -- UnitTable --------------------------------------------------------------------------------------
def test_interpolation_is_exact_at_measured_points() -> None:
    t = UnitTable("u", [1, 4, 10, 20], [32], [[0.5], [1.0], [3.0], [3.5]])
    np.testing.assert_allclose(t.at(np.array([1, 4, 10, 20])), [0.5, 1.0, 3.0, 3.5], rtol=1e-12)


def test_interpolation_is_linear_between_points() -> None:
    t = UnitTable("u", [1, 4, 10, 20], [32], [[0.5], [1.0], [3.0], [3.5]])
    np.testing.assert_allclose(t.at(np.array([7, 5.5, 15, 2.5])), [2.0, 1.5, 3.25, 0.75], rtol=1e-12)


def test_zero_rows_take_no_time() -> None:
    t = UnitTable("u", [1, 8], [8], [[0.2], [0.9]])
    assert t.at(np.array([0]))[0] == 0.0
    assert t.at(np.array([-3]))[0] == 0.0
    assert t.at(np.array(0)) == 0.0


def test_below_the_first_height_scales_to_zero() -> None:
    t = UnitTable("u", [4, 8], [8], [[0.4], [0.6]])
    np.testing.assert_allclose(t.at(np.array([1, 2, 3, 4])), [0.1, 0.2, 0.3, 0.4], rtol=1e-12)


def test_beyond_the_last_height_holds_the_last_value() -> None:
    t = UnitTable("u", [1, 8], [8], [[0.2], [0.9]])
    assert t.at(np.array([12]))[0] == pytest.approx(0.9)


@pytest.mark.parametrize("seed", range(8))
def test_monotone_tables_interpolate_monotonically(seed: int) -> None:
    rng = np.random.default_rng(seed)
    height = int(rng.integers(5, 60))
    k = int(rng.integers(1, min(height, 8) + 1))
    heights = sorted(rng.choice(np.arange(1, height + 1), size=k, replace=False).tolist())
    seconds = np.cumsum(rng.uniform(0.0, 1.0, size=k)) + rng.uniform(0.0, 0.5)
    t = UnitTable("u", heights, [height], [[float(s)] for s in seconds])
    out = t.at(np.arange(0, height + 3))
    assert out[0] == 0.0
    assert (np.diff(out) >= -1e-15).all(), out
    np.testing.assert_allclose(t.at(np.array(heights)), seconds, rtol=1e-12)


def test_two_dimensional_table() -> None:
    # seconds = rows * cols / 100 on a 2x2 grid
    t = UnitTable("u", [10, 20], [5, 10], [[0.5, 1.0], [1.0, 2.0]])
    np.testing.assert_allclose(t.at(np.array([10, 20, 15]), np.array([5, 10, 10])), [0.5, 2.0, 1.5], rtol=1e-12)
    np.testing.assert_allclose(t.at(np.array([20]), np.array([7.5])), [1.5], rtol=1e-12)
    np.testing.assert_allclose(t.at(np.array([20])), [2.0])  # no cols: full width
    # one measured width: scaled linearly in the number of columns
    t1 = UnitTable("u", [10, 20], [8], [[1.0], [2.0]])
    np.testing.assert_allclose(t1.at(np.array([20, 10]), np.array([4, 2])), [1.0, 0.25], rtol=1e-12)


# -- DeviceProfile files ----------------------------------------------------------------------------
def test_save_and_load_round_trip(vgg16: ModelGraph, tmp_path: Path) -> None:
    prof = synthetic_profile(vgg16, [1e-4 * (i + 1) for i in range(vgg16.num_units)], head=3e-3, fixed=1e-5)
    path = prof.save(tmp_path / "deep" / "p.json")
    loaded = DeviceProfile.load(path)
    assert loaded == prof
    assert loaded.input_shape == (3, 224, 224)
    assert loaded.total_seconds() == pytest.approx(prof.total_seconds(), rel=1e-12)
    data = json.loads(path.read_text())
    assert data["format"] == "splitgym.profile" and data["version"] == PROFILE_VERSION


def test_shipped_profile_loads_and_matches_vgg16(local: DeviceProfile, vgg16: ModelGraph) -> None:
    assert local.kind == "measured" and local.board == "local-cpu"
    assert local.model == "vgg16" and local.input_shape == (3, 224, 224)
    assert len(local.units) == vgg16.num_units
    local.check(vgg16)
    for table, unit in zip(local.units, vgg16.units, strict=True):
        assert table.heights[0] == 1 and table.heights[-1] == unit.height
    t = local.table(vgg16)
    assert t.shape == (vgg16.num_units, 225)
    assert (t[:, 0] == 0).all() and (t[:, 1:] > 0).all()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prof.json"
    path.write_text(text)
    return path


def _valid(vgg16: ModelGraph) -> dict:
    return synthetic_profile(vgg16, 1e-4).to_json()


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        DeviceProfile.load(tmp_path / "absent.json")
    msg = _one_line(info)
    assert "no such file" in msg and "absent.json" in msg


def test_load_malformed_json(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        DeviceProfile.load(_write(tmp_path, '{"format": "splitgym.profile", '))
    assert "not valid JSON" in _one_line(info)


@pytest.mark.parametrize(
    "key, value, needles",
    [
        ("version", 2, ["version", "2"]),
        ("version", None, ["version", "None"]),
        ("format", "splitgym.plan", ["format", "splitgym.plan"]),
        ("units", 5, ["units", "5"]),
        ("head_seconds", "slow", ["head_seconds", "slow"]),
    ],
)
def test_load_wrong_documents(vgg16: ModelGraph, tmp_path: Path, key: str, value: object, needles: list[str]) -> None:
    data = _valid(vgg16)
    data[key] = value
    with pytest.raises(ProfileError) as info:
        DeviceProfile.load(_write(tmp_path, json.dumps(data)))
    msg = _one_line(info)
    assert "prof.json" in msg
    for n in needles:
        assert n in msg


def test_load_missing_key(vgg16: ModelGraph, tmp_path: Path) -> None:
    data = _valid(vgg16)
    del data["units"][3]["seconds"]
    with pytest.raises(ProfileError) as info:
        DeviceProfile.load(_write(tmp_path, json.dumps(data)))
    assert "seconds" in _one_line(info)


def test_load_a_json_list(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        DeviceProfile.load(_write(tmp_path, "[1, 2]"))
    assert "format" in _one_line(info)


def test_load_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ProfileError):
        DeviceProfile.load(tmp_path)


def test_load_non_utf8_bytes(tmp_path: Path) -> None:
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ProfileError):
        DeviceProfile.load(path)


def test_check_rejects_another_model_or_input(vgg16: ModelGraph) -> None:
    prof = synthetic_profile(vgg16, 1e-4)
    prof.check(vgg16)
    for change in ({"model": "resnet18"}, {"input_shape": (3, 112, 112)}):
        other = DeviceProfile(**{**vars(prof), **change})
        with pytest.raises(ProfileError) as info:
            other.check(vgg16)
        msg = _one_line(info)
        assert "vgg16" in msg and ("resnet18" in msg or "112" in msg)
        with pytest.raises(ProfileError):
            other.table(vgg16)
    short = DeviceProfile(**{**vars(prof), "units": prof.units[:-1]})
    with pytest.raises(ProfileError) as info:
        short.check(vgg16)
    assert "17 units" in _one_line(info)


# -- fitted -----------------------------------------------------------------------------------------
def test_linear_fit_of_a_linear_table_is_exact(vgg16: ModelGraph) -> None:
    prof = synthetic_profile(vgg16, [2e-5 * (i + 1) for i in range(vgg16.num_units)], fixed=3e-4)
    fit = prof.fitted("linear")
    assert fit.kind == "fitted" and fit.meta["fitted"] == "linear" and fit.meta["fitted_from"] == prof.name
    assert prof.mape_against(fit) < 1e-6
    assert fit.total_seconds() == pytest.approx(prof.total_seconds(), rel=1e-9)
    assert prof.mape_against(prof) == 0.0


def test_fits_of_a_non_linear_table_have_positive_error(vgg16: ModelGraph) -> None:
    prof = synthetic_profile(vgg16, 1e-4)
    for u in prof.units:  # quadratic in rows
        u.seconds = [[1e-6 * h * h + 1e-5] for h in u.heights]
    lin = prof.mape_against(prof.fitted("linear"))
    pw = prof.mape_against(prof.fitted("piecewise", knots=4))
    assert lin > 1.0
    assert 0.0 < pw < lin  # more knots follow the curve better


# -- derive and boards ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["table", "linear"])
def test_derive_scales_every_time_by_one_factor(local: DeviceProfile, vgg16: ModelGraph, shape: str) -> None:
    d = derive(local, "nano", vgg16, shape=shape)
    b = BOARDS["nano"]
    # the default shape is the local table's per-unit linear fit; "table" keeps the raw table
    src = local if shape == "table" else local.fitted("linear")
    assert d.kind == "derived" and d.board == "nano" and d.name == "nano"
    assert d.model == local.model and d.input_shape == local.input_shape
    factor = d.meta["scale_factor"]
    assert factor > 0
    for mine, base in zip(d.units, src.units, strict=True):
        assert mine.heights == base.heights and mine.widths == base.widths
        np.testing.assert_allclose(np.array(mine.seconds), np.array(base.seconds) * factor, rtol=1e-12)
    assert d.head_seconds == pytest.approx(local.head_seconds * factor, rel=1e-12)
    assert d.meta["shape"] == shape
    # the whole model then runs at the board's effective rate
    assert d.total_seconds() == pytest.approx(vgg16.flops / (b.effective_gflops * 1e9), rel=1e-9)
    assert d.meta["local_effective_gflops"] == pytest.approx(vgg16.flops / src.total_seconds() / 1e9)


def test_derive_records_its_sources(local: DeviceProfile, vgg16: ModelGraph) -> None:
    d = derive(local, "tx2", vgg16, name="tx2-a", shape="linear")  # the CPU-shaped scaling's record
    b = BOARDS["tx2"]
    assert d.name == "tx2-a"
    assert d.meta["source"] == b.source and "1.33 TFLOPS" in d.meta["source"]
    assert d.meta["board_peak_gflops"] == b.peak_gflops == 1330.0
    assert d.meta["board_efficiency"] == b.efficiency
    assert d.meta["derived_from"] == local.name
    assert d.meta["derived_from_machine"] == local.meta["machine"]
    assert d.meta["derived_from_date"] == local.meta["date"]
    assert "derived" in d.meta["label"]


def test_derive_an_unknown_board(local: DeviceProfile, vgg16: ModelGraph) -> None:
    with pytest.raises(ConfigError) as info:
        derive(local, "cray-1", vgg16)
    assert "'cray-1'" in _one_line(info)


def test_boards_order_pi3_nano_tx2_xavier(local: DeviceProfile, vgg16: ModelGraph) -> None:
    cache: dict[str, DeviceProfile] = {"local-cpu": local}
    t = {b: profile_for(b, vgg16, cache).total_seconds() for b in ("pi3", "nano", "tx2", "xavier")}
    # PAPERS-AUDIT D15: computing capability Pi3 << Nano < TX2 < Xavier
    assert t["pi3"] > 5 * t["nano"]
    assert t["nano"] > t["tx2"] > t["xavier"] > 0
    assert profile_for("nano", vgg16, cache) is cache["nano"]
    assert cache["nano"].kind == "derived"


# -- measuring --------------------------------------------------------------------------------------
def test_height_grid() -> None:
    assert height_grid(16, 5) == [1, 5, 10, 15, 16]
    assert height_grid(7, 1) == [1, 2, 3, 4, 5, 6, 7]
    assert height_grid(1, 4) == [1]
    assert height_grid(10, 20) == [1, 10]


def test_profile_a_tiny_model(tiny: ModelGraph, tiny_profile: DeviceProfile) -> None:
    prof = tiny_profile
    assert tiny.num_units == 3 and tiny.head is not None
    assert prof.kind == "measured" and prof.board == "local-cpu" and prof.model == "tiny"
    assert prof.input_shape == (3, 16, 16)
    assert [u.name for u in prof.units] == [u.name for u in tiny.units]
    for table, unit in zip(prof.units, tiny.units, strict=True):
        assert table.heights[0] == 1 and table.heights[-1] == unit.height
        assert table.heights == height_grid(unit.height, 5)
        assert table.widths == [unit.out_shape[2]]
        assert len(table.seconds) == len(table.heights)
        assert all(len(r) == 1 and r[0] > 0 for r in table.seconds)
    assert prof.head_seconds > 0
    prof.check(tiny)
    meta = prof.meta
    assert meta["version"] == PROFILE_VERSION
    assert meta["machine"]["torch"] == torch.__version__
    assert isinstance(meta["machine"]["threads"], int) and meta["machine"]["threads"] >= 1
    assert meta["machine"]["device"] == "cpu"
    assert meta["date"][:2] == "20" and "T" in meta["date"]
    assert meta["granularity"] == 5 and meta["min_run_time_s"] == 0.002


def test_measured_profile_saves_and_loads(tiny: ModelGraph, tiny_profile: DeviceProfile, tmp_path: Path) -> None:
    loaded = DeviceProfile.load(tiny_profile.save(tmp_path / "tiny.json"))
    assert loaded == tiny_profile
    loaded.check(tiny)
    assert loaded.table(tiny).shape == (3, 17)


def test_profile_tiles_of_a_tiny_model(tiny: ModelGraph) -> None:
    prof = profile_model(tiny, granularity=8, widths=[0.5, 1.0], min_run_time=0.001, progress=False)
    assert [u.widths for u in prof.units] == [[8, 16], [8, 16], [4, 8]]
    assert all(len(r) == 2 and min(r) > 0 for u in prof.units for r in u.seconds)


def test_profile_measures_at_the_thread_count_it_records(tiny: ModelGraph, monkeypatch) -> None:
    """torch.utils.benchmark.Timer runs at its own num_threads (default 1): the profile must be
    taken at the count in force, or a profile recorded at 4 threads is a 1-thread one."""
    import torch.utils.benchmark as benchmark

    seen = []
    real = benchmark.Timer

    def spy(*args, **kwargs):
        seen.append(kwargs.get("num_threads", 1))
        return real(*args, **kwargs)

    monkeypatch.setattr(benchmark, "Timer", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        prof = profile_model(tiny, granularity=16, min_run_time=0.001, progress=False, passes=1)
        assert seen and set(seen) == {2} and prof.meta["machine"]["threads"] == 2
        seen.clear()  # an explicit count is used while measuring, then the caller's is restored
        prof = profile_model(tiny, granularity=16, min_run_time=0.001, progress=False, passes=1, threads=1)
        assert set(seen) == {1} and prof.meta["machine"]["threads"] == 1 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("device", ["nope", "cuda:7"])
def test_profile_on_a_bad_device(tiny: ModelGraph, device: str) -> None:
    with pytest.raises(ProfileError) as info:
        profile_model(tiny, device=device, min_run_time=0.001, progress=False)
    msg = _one_line(info)
    assert msg.startswith("device:") and repr(device) in msg


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"granularity": 0}, "granularity"),
        ({"granularity": -2}, "granularity"),
        ({"widths": [0.0, 1.0]}, "widths"),
        ({"widths": [1.5]}, "widths"),
        ({"threads": 0}, "threads"),
    ],
)
def test_profile_rejects_bad_options(tiny: ModelGraph, kwargs: dict, needle: str) -> None:
    with pytest.raises(ProfileError) as info:
        profile_model(tiny, min_run_time=0.001, progress=False, **kwargs)
    assert _one_line(info).startswith(needle)


def test_point_timer_measures_a_known_duration():
    """The profiler's sized-block timer and the old autorange one both time a 3 ms call as ~3 ms
    (sleep: at least its duration however loaded the machine), and a fast call far below it."""
    import time

    import torch

    from splitgym.costmodels.profiler import _time
    from splitgym.experiments.bench_profiler import autorange_time

    for timer in (_time, autorange_time):
        assert 0.003 <= timer(lambda x: time.sleep(0.003), torch.zeros(1), 0.02, "cpu") < 0.03
        assert timer(lambda x: x + 1, torch.zeros(1), 0.01, "cpu") < 1e-3
