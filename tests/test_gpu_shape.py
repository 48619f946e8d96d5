"""GPU-shaped derived boards (costmodels/gpu_shape.py) and their calibration."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from splitgym.costmodels.boards import BOARDS
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.gpu_shape import MODEL_NAME, GpuShapeParams, GpuSpec
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.profile_spec import ProfileSpec
from splitgym.costmodels.profiles import DeviceProfile, derive, profile_for
from splitgym.experiments import calibrate_gpu_shape as cal
from splitgym.experiments.results_csv import read_csv

from .helpers import synthetic_profile

NO_KERNEL = {"flatten", "dropout", "identity", "stochastic_depth"}


@pytest.fixture(scope="module")
def base(vgg16: ModelGraph) -> DeviceProfile:
    return synthetic_profile(vgg16, 1e-4, head=1e-3)


def _kernels(graph: ModelGraph, unit: int) -> int:
    return sum(1 for layer in graph.layers if layer.unit == unit and layer.kind not in NO_KERNEL)


def _full(prof: DeviceProfile, graph: ModelGraph, unit: int) -> np.ndarray:
    return prof.unit_latency(unit, np.arange(1, graph.units[unit].height + 1))


def _conv_waves(graph: ModelGraph, unit: int, spec: GpuSpec, p: GpuShapeParams) -> np.ndarray:
    """Waves of the unit's conv at each height, counted from the documented tiling."""
    conv = next(layer for layer in graph.layers if layer.unit == unit and layer.kind == "conv")
    _, n, h, w = conv.out_shape
    tile_n = min(p.tile_n, 2 ** math.ceil(math.log2(n)))
    rows = np.arange(1, h + 1)
    blocks = np.ceil(rows * w / p.tile_m) * math.ceil(n / tile_n)
    return np.ceil(blocks / (spec.sms * p.blocks_per_sm))


@pytest.mark.parametrize("board", ["xavier", "nano"])
def test_a_derived_jetson_is_flat_then_steps(base: DeviceProfile, vgg16: ModelGraph, board: str) -> None:
    d = derive(base, board, vgg16)
    p = GpuShapeParams(**d.meta["gpu_params"])
    spec = GpuSpec.of_board(BOARDS[board])
    for unit in (11, 14):  # conv 512 -> 512 at 28 and at 14 rows: compute-bound
        t = _full(d, vgg16, unit)
        waves = _conv_waves(vgg16, unit, spec, p)
        steps = np.diff(waves) > 0
        assert steps.any() and not steps.all()  # plateaus and jumps both exist
        d_t = np.diff(t)
        # within a plateau only the memory-bound activation grows (tiny); at a new wave, one
        # wave's compute is added (at least a third of the one-row latency)
        assert np.all(d_t[~steps] < 0.02 * t[0])
        assert np.all(d_t[steps] > 0.3 * t[0])
        first_jump = int(np.argmax(steps)) + 1  # rows in the first plateau
        assert first_jump >= 2 and t[first_jump - 1] < 1.05 * t[0]


def test_per_row_cost_at_one_row_exceeds_full_height_by_the_launch_floor(
    base: DeviceProfile, vgg16: ModelGraph
) -> None:
    lo, hi = GpuShapeParams(launch_s=10e-6), GpuShapeParams(launch_s=60e-6)
    d_lo = derive(base, "xavier", vgg16, gpu_params=lo)
    d_hi = derive(base, "xavier", vgg16, gpu_params=hi)
    for u in vgg16.units:
        k, h = _kernels(vgg16, u.index), u.height
        t_lo, t_hi = _full(d_lo, vgg16, u.index), _full(d_hi, vgg16, u.index)
        excess_lo = t_lo[0] - t_lo[-1] / h  # per-row cost at 1 row minus per-row cost at full height
        excess_hi = t_hi[0] - t_hi[-1] / h
        # every kernel of the unit pays the floor once per part: k floors at 1 row, k/h per row at full height
        assert excess_hi - excess_lo == pytest.approx(k * (hi.launch_s - lo.launch_s) * (1 - 1 / h), rel=1e-9)
        # and the floor is all of it where the work is linear in rows (memory-bound pools), more
        # where a one-row part also pays a whole wave (compute-bound convs)
        floor = k * lo.launch_s * (1 - 1 / h)
        if u.kind == "maxpool":
            assert excess_lo == pytest.approx(floor, rel=1e-6)
        else:
            assert excess_lo > 1.01 * floor
        assert t_lo[0] >= k * lo.launch_s


def test_cpu_boards_are_not_stepped(base: DeviceProfile, vgg16: ModelGraph) -> None:
    pi = derive(base, "pi3", vgg16)
    gpu = derive(base, "xavier", vgg16)
    assert pi.meta["shape"] == "linear" and gpu.meta["shape"] == "gpu"
    for unit in (1, 11, 14):
        t = _full(pi, vgg16, unit)
        assert np.all(np.diff(t) > 0)  # every extra row costs: no plateau
        np.testing.assert_allclose(np.diff(t, 2), 0.0, atol=1e-9 * t[-1])  # and no step
        g = _full(gpu, vgg16, unit)
        assert np.max(np.abs(np.diff(g, 2))) > 0.3 * g[0]


def test_nano_over_xavier_is_no_longer_one_constant(base: DeviceProfile, vgg16: ModelGraph) -> None:
    def ratios(shape: str | None) -> np.ndarray:
        nano, xavier = derive(base, "nano", vgg16, shape=shape), derive(base, "xavier", vgg16, shape=shape)
        return np.array([_full(nano, vgg16, u.index)[-1] / _full(xavier, vgg16, u.index)[-1] for u in vgg16.units])

    gpu, linear = ratios(None), ratios("linear")
    assert np.ptp(linear) < 1e-9 * linear.mean()  # the CPU-shaped derivation: one factor everywhere
    assert gpu.max() > 1.5 * gpu.min()  # per unit: memory-bound pools vs compute-bound convs differ
    assert np.all(gpu > 1)  # still Nano slower than Xavier at every unit


def test_derived_gpu_profile_records_its_model(base: DeviceProfile, vgg16: ModelGraph) -> None:
    p = GpuShapeParams(launch_s=20e-6, efficiency=0.4)
    d = derive(base, "tx2", vgg16, name="tx2-b", gpu_params=p)
    assert d.kind == "derived" and d.name == "tx2-b" and "derived" in d.meta["label"]
    assert d.meta["model"] == MODEL_NAME and d.meta["calibrated"] is False
    assert GpuShapeParams(**d.meta["gpu_params"]) == p
    assert d.meta["gpu_spec"]["sms"] == BOARDS["tx2"].sm_count
    assert "59.7 GB/s" in d.meta["gpu_source"]
    assert DeviceProfile.from_json(d.to_json()).meta == d.meta  # survives its file
    # one-row granularity, so interpolation cannot smooth a step away
    assert all(t.heights == list(range(1, u.height + 1)) for t, u in zip(d.units, vgg16.units))


def test_gpu_shape_refused_in_one_line(base: DeviceProfile, vgg16: ModelGraph) -> None:
    with pytest.raises(ConfigError, match=r"board: 'pi3' is not a GPU board"):
        derive(base, "pi3", vgg16, shape="gpu")
    with pytest.raises(ConfigError, match=r"gpu_shape.efficiency: must be > 0, got -0.5"):
        GpuShapeParams(efficiency=-0.5)
    with pytest.raises(ConfigError, match=r"shape: expected one of gpu, linear, table, got 'cubic'"):
        derive(base, "nano", vgg16, shape="cubic")  # type: ignore[arg-type]


@pytest.mark.parametrize("noise", [0.0, 0.02])
def test_calibration_recovers_known_parameters(vgg16: ModelGraph, noise: float) -> None:
    spec, _ = cal.CALIBRATION_GPUS["h100-sxm"]
    truth = GpuShapeParams(launch_s=7e-6, efficiency=1.3, mem_efficiency=0.55, tile_m=128, tile_n=128)
    prof = cal.model_profile(vgg16, spec, truth)
    rng = np.random.default_rng(0)
    for u in prof.units:
        u.seconds = [[s * (1 + noise * rng.standard_normal()) for s in row] for row in u.seconds]
    result = cal.fit([(vgg16, prof)], spec)
    got = result.params
    assert (got.tile_m, got.tile_n, got.blocks_per_sm) == (128, 128, 1)
    tol = 1e-6 if noise == 0 else 0.1
    assert got.launch_s == pytest.approx(truth.launch_s, rel=tol)
    assert got.efficiency == pytest.approx(truth.efficiency, rel=tol)
    assert got.mem_efficiency == pytest.approx(truth.mem_efficiency, rel=tol)
    report = cal.mape([(vgg16, prof)], spec, got)
    assert report["overall"] < (1e-6 if noise == 0 else 3.0)
    assert report["overall"] < cal.mape([(vgg16, prof)], spec, GpuShapeParams())["overall"]


def test_calibration_script_runs_on_profile_files(vgg16: ModelGraph, tmp_path) -> None:
    spec, _ = cal.CALIBRATION_GPUS["h200"]
    truth = GpuShapeParams(launch_s=9e-6, efficiency=0.8, mem_efficiency=0.7)
    prof = cal.model_profile(vgg16, spec, truth, name="local-cuda")
    prof.meta["machine"] = {"gpu": "NVIDIA H200"}
    path = prof.save(tmp_path / "cuda.json")
    assert cal.main([str(path), "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu_shape_calibration.json").read_text())
    assert report["gpu"] == "h200"
    assert report["params"]["launch_s"] == pytest.approx(truth.launch_s, rel=1e-6)
    assert set(report["mape_calibrated"]["per_unit"]["vgg16"]) == {u.name for u in vgg16.units} | {"head"}
    prof.meta["machine"] = {"gpu": "GeForce 8800"}
    prof.save(path)
    assert cal.main([str(path), "--out", str(tmp_path)]) == 2  # an unknown GPU: one line, no traceback


def test_gpu_shapes_script_draws_every_board(tmp_path) -> None:
    from splitgym.experiments import gpu_shapes

    assert gpu_shapes.main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "gpu_shapes.png").stat().st_size > 10_000
    graph = ModelGraph.from_torchvision("vgg16", weights=False)
    data = gpu_shapes.shapes(graph, ("features.19",))
    for board, per_unit in data.items():
        d = np.diff(per_unit["features.19"])
        big = int(np.sum(d > 3 * np.median(d)))
        assert (big > 0) == (BOARDS[board].processor == "gpu"), board


def test_an_explicit_form_on_a_gpu_board_is_fitted_to_the_wave_table(base: DeviceProfile, vgg16: ModelGraph) -> None:
    cache: dict[str, DeviceProfile] = {"local-cpu": base}
    wave = profile_for("xavier", vgg16, cache)
    table = profile_for(ProfileSpec("xavier", form="table"), vgg16, cache)
    linear = profile_for(ProfileSpec("xavier", form="linear"), vgg16, cache)
    rows = np.arange(1, vgg16.units[11].height + 1)
    # the table form is the wave model's table itself, stepped; the linear form smooths its steps
    np.testing.assert_allclose(table.unit_latency(11, rows), wave.unit_latency(11, rows), rtol=1e-12)
    assert wave.meta["shape"] == "gpu"
    assert np.max(np.abs(np.diff(linear.unit_latency(11, rows), 2))) < 1e-3 * wave.unit_latency(11, rows)[0]


def test_calibration_csv_holds_the_json_figures_stamped(tmp_path) -> None:
    assert cal.main(["--synthetic", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu_shape_calibration_synthetic.json").read_text())
    rows = read_csv(tmp_path / "gpu_shape_calibration_synthetic.csv")
    mape = {(r["model"], r["name"]): r for r in rows if r["kind"] == "mape"}
    assert mape[("all", "all")]["default"] == report["mape_uncalibrated"]["overall"]
    assert mape[("all", "all")]["fitted"] == report["mape_calibrated"]["overall"]
    assert mape[("vgg16", "all")]["default"] == report["mape_uncalibrated"]["per_model"]["vgg16"]
    for unit, v in report["mape_calibrated"]["per_unit"]["vgg16"].items():
        assert mape[("vgg16", unit)]["fitted"] == v
    params = {r["name"]: r for r in rows if r["kind"] == "param"}
    assert {k: r["fitted"] for k, r in params.items()} == report["params"]
    assert {k: r["truth"] for k, r in params.items()} == report["truth"]
    assert params["launch_s"]["default"] == GpuShapeParams().launch_s
    assert all(r["gpu"] == "h100-sxm" and r["commit"] != "unknown" and "pytest" in r["command"] for r in rows)
