"""The in-process executor: split runs equal the unsplit model for every planner's plans, random
cuts and empty parts; the parts hold the model's parameters; bad plans and devices fail in one
line; measured times compose like the simulator."""

from __future__ import annotations

import functools
import zlib

import numpy as np
import pytest
import torch

from splitgym.agents.planners import VOLUME_PLANNERS, planner_options, run_planner
from splitgym.costmodels.cluster import REQUESTER, Cluster
from splitgym.costmodels.errors import PlanError, SplitgymError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import build_model
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.volumes.partitions import from_starts, named_partition
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.executors import LocalExecutor, build_stages, compose_latency, network_transfer
from splitgym.executors.volumes.volume_local import strict_fp32

from .helpers import random_cuts, synthetic_profile

# small inputs keep the whole file fast
MODELS = {"vgg16": 64, "resnet18": 64, "resnet50": 64, "mobilenet_v2": 64, "inception_v3": 139, "efficientnet_b0": 96}
PLANS = [
    ("equal", {"partition": "layers"}),
    ("equal", {"partition": "single"}),
    ("equal", {"partition": "stages"}),
    ("coedge", {}),
    ("modnn", {}),
    ("mednn", {}),
    ("deepthings", {}),
    ("deeperthings", {}),
    ("aofl", {"max_volumes": 4}),
    ("offload", {}),
    ("ar-mdi", {}),
]
# HiDP-style planners (their costs: tests/test_hidp.py); their node rows are checked exact on two models
HIDP_PLANS = [("hidp", {}), ("disnet", {}), ("modnn-hidp", {}), ("omniboost", {"iterations": 200}), ("aofl-hidp", {})]


pytestmark = pytest.mark.usefixtures("one_thread")


@functools.cache
def cluster() -> Cluster:
    return Cluster.from_config("DB", 300)


@functools.cache
def setup(name: str) -> tuple[ModelGraph, torch.Tensor, torch.Tensor, dict]:
    """Graph, input, unsplit output and synthetic profiles (nothing is measured)."""
    size = MODELS[name]
    g = ModelGraph.from_torchvision(name, size)
    torch.manual_seed(1)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        ref = build_model(name)(x)
    per_row = [max(u.flops / u.height, 1.0) * 1e-10 for u in g.units]
    return g, x, ref, {"local-cpu": synthetic_profile(g, per_row, head=1e-4)}


def assert_exact(y: torch.Tensor, ref: torch.Tensor) -> None:
    torch.testing.assert_close(y, ref, rtol=1e-4, atol=1e-5 * max(1.0, ref.abs().max().item()))


def plan_for(method: str, options: dict, name: str) -> Plan:
    g, _, _, profiles = setup(name)
    opts = dict(options)
    if "profiles" in planner_options(method):
        opts["profiles"] = profiles
    return run_planner(method, g, cluster(), **opts)


def test_every_planner_is_covered() -> None:
    assert {m for m, _ in PLANS + HIDP_PLANS} | {"exact"} >= {*VOLUME_PLANNERS, "exact"}


def _case_id(p: object) -> str:
    return p if isinstance(p, str) else "-".join(str(v) for v in p.values())  # type: ignore[union-attr]


# aofl on efficientnet_b0 enumerates 2^37 partitions (minutes): it runs in the slow test instead
FAST_CASES = [(n, m, o) for n in MODELS for m, o in PLANS if not (m == "aofl" and n == "efficientnet_b0")]
FAST_CASES += [(n, m, o) for n in ("vgg16", "inception_v3") for m, o in HIDP_PLANS]


@pytest.mark.parametrize("name,method,options", FAST_CASES, ids=[f"{n}-{m}-{_case_id(o)}" for n, m, o in FAST_CASES])
def test_planner_plans_are_exact(name: str, method: str, options: dict) -> None:
    g, x, ref, _ = setup(name)
    plan = plan_for(method, options, name)
    assert_exact(LocalExecutor(plan, g).run(x), ref)


@pytest.mark.slow
def test_aofl_efficientnet_is_exact() -> None:
    g, x, ref, _ = setup("efficientnet_b0")
    plan = plan_for("aofl", {"max_volumes": 4}, "efficientnet_b0")
    assert_exact(LocalExecutor(plan, g).run(x), ref)


@pytest.mark.parametrize("name,partition,grid", [("vgg16", "single", 0), ("resnet18", "0,4,7", 4)])
def test_exact_planner_is_exact(name: str, partition: str, grid: int) -> None:
    g, x, ref, _ = setup(name)
    plan = plan_for("exact", {"partition": partition, "grid": grid}, name)
    assert_exact(LocalExecutor(plan, g).run(x), ref)


@pytest.mark.parametrize("name", list(MODELS))
def test_random_cuts_and_empty_parts_are_exact(name: str) -> None:
    g, x, ref, _ = setup(name)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    U, N = g.num_units, cluster().size
    for trial in range(3):
        starts = sorted(set(rng.integers(0, U, size=rng.integers(1, 5)).tolist()))
        part = from_starts(starts, U)
        cuts = np.stack([random_cuts(rng, g.units[last].height, N) for _, last in part])
        if trial == 0:  # one device does everything: three empty parts per volume
            cuts = np.stack([[0] * N + [g.units[last].height] for _, last in part])
        if trial == 1:  # an empty part in the middle and at the ends
            cuts[:, 1] = 0
            cuts[:, 2] = cuts[:, 3]
        plan = Plan.from_volumes("random", g, cluster(), part, cuts)
        stages = build_stages(plan, g)
        assert [[p.empty for p in s] for s in stages[:-1]] == [
            [r1 <= r0 for r0, r1 in zip(c[:-1], c[1:], strict=True)] for c in cuts
        ]
        assert_exact(LocalExecutor(plan, g).run(x), ref)


def test_head_device_is_respected_and_batches_work() -> None:
    g, _, _, profiles = setup("resnet18")
    plan = run_planner("equal", g, cluster(), partition="stages")
    assert plan.volumes[-1].rows == [0, 0, 1, 2, 2]  # a tie: the first of the largest shares
    assert build_stages(plan, g)[-1][0].device == "xavier-1"
    assert Simulator(g, cluster(), profiles=dict(profiles)).simulate(plan).head_device == "xavier-1"
    plan = plan.model_copy(update={"head_device": "nano-1"})
    stages = build_stages(plan, g)
    assert [p.device for p in stages[-1]] == ["nano-1"]
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        ref = build_model("resnet18")(x)
    assert_exact(LocalExecutor(plan, g).run(x), ref)


@pytest.mark.parametrize("name", list(MODELS))
def test_parts_hold_the_models_parameters(name: str) -> None:
    g, _, _, _ = setup(name)
    plan = plan_for("equal", {"partition": "stages"}, name)
    original = dict(build_model(name).named_parameters())
    seen: dict[str, torch.Tensor] = {}
    for stage in build_stages(plan, g):
        for p in stage:
            if p.module is None:
                continue
            for key, value in p.module.named_parameters(remove_duplicate=False):
                mod, pname = key.removeprefix("_modules_used.").rsplit(".", 1)
                seen[f"{mod.replace('__', '.')}.{pname}"] = value
    assert set(seen) == set(original)
    for key, value in seen.items():
        assert torch.equal(value.detach().cpu(), original[key].detach()), key


def test_plan_for_another_input_size_fails_in_one_line() -> None:
    g, _, _, _ = setup("vgg16")
    other = ModelGraph.from_torchvision("vgg16", 96)
    plan = run_planner("equal", other, cluster(), partition="single")
    with pytest.raises(PlanError) as exc:
        LocalExecutor(plan, g)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("model.input:") and "64" in msg and "96" in msg


def test_plan_without_volumes_fails() -> None:
    g, _, _, _ = setup("vgg16")
    plan = run_planner("equal", g, cluster(), partition="single")
    with pytest.raises(PlanError, match="volumes"):
        build_stages(plan.model_copy(update={"volumes": [], "stages": []}), g)


@pytest.mark.parametrize(
    "devices,pattern",
    [
        ({"nano-0": f"cuda:{torch.cuda.device_count() + 3}"}, r"^device: cuda:\d+ is not available"),
        ({"nano-0": "tpu:0"}, r"^device: "),
        ({"nano-0": "banana"}, r"^device: 'banana' .* is not a torch device"),
        ({"phone": "cpu"}, r"^devices: unknown plan device 'phone'"),
    ],
)
def test_bad_torch_device_fails_in_one_line(devices: dict, pattern: str) -> None:
    g, _, _, _ = setup("vgg16")
    plan = run_planner("equal", g, cluster(), partition="single")
    with pytest.raises(SplitgymError, match=pattern) as exc:
        LocalExecutor(plan, g, devices)
    assert "\n" not in str(exc.value)


def test_bad_input_fails_in_one_line() -> None:
    g, _, _, _ = setup("vgg16")
    ex = LocalExecutor(run_planner("equal", g, cluster(), partition="single"), g)
    with pytest.raises(PlanError, match=r"^input: expected a tensor \[N, 3, 64, 64\]"):
        ex.run(torch.zeros(1, 3, 32, 32))


def test_run_timed_reports_and_composes_like_the_simulator() -> None:
    g, x, ref, profiles = setup("vgg16")
    plan = run_planner("equal", g, cluster(), partition="stages")
    y, times = LocalExecutor(plan, g).run_timed(x, repeats=1, warmup=0)
    assert_exact(y, ref)
    V, N = len(plan.volumes), cluster().size
    nonempty = np.diff(plan.cuts, axis=1) > 0
    assert times["compute_s"].shape == (V, N)
    assert ((times["compute_s"] > 0) == nonempty).all()
    assert times["head_device"] == "xavier-1" and times["head_s"] > 0
    assert len(times["volumes"]) == V and times["latency_s"] > 0
    # free transfers: the composed latency is bounded by the sequential sum and the critical path
    total = times["compute_s"].sum() + times["head_s"]
    assert times["compute_s"].sum(axis=0).max() <= times["latency_s"] <= total + 1e-9
    # the bytes moved are the simulator's, and with its compute times and links, so is the latency
    sim = Simulator(g, cluster(), profiles=dict(profiles))
    bd = sim.simulate(plan)
    sim_between = sum(t["bytes"] for t in bd.transfers if REQUESTER not in (t["src"], t["dst"]))
    assert times["bytes_moved"] == sim_between
    fed = dict(times, compute_s=bd.compute, head_s=bd.head_seconds)
    composed = compose_latency(fed, plan, network_transfer(plan))
    assert composed["latency_s"] == pytest.approx(bd.latency, rel=1e-9)
    np.testing.assert_allclose(composed["T"], bd.T, rtol=1e-9)


def test_compose_matches_simulator_with_empty_parts_and_head_device() -> None:
    g, x, _, profiles = setup("vgg16")
    rng = np.random.default_rng(7)
    part = named_partition("stages", g)
    cuts = np.stack([random_cuts(rng, g.units[last].height, cluster().size) for _, last in part])
    cuts[:, 2] = cuts[:, 1]
    plan = Plan.from_volumes("random", g, cluster(), part, cuts, head_device="nano-0")
    _, times = LocalExecutor(plan, g).run_timed(x, warmup=0)
    bd = Simulator(g, cluster(), profiles=dict(profiles)).simulate(plan)
    fed = dict(times, compute_s=bd.compute, head_s=bd.head_seconds)
    assert compose_latency(fed, plan, network_transfer(plan))["latency_s"] == pytest.approx(bd.latency)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mixed_cpu_and_cuda_parts_are_exact() -> None:
    g, x, ref, _ = setup("resnet18")
    plan = run_planner("equal", g, cluster(), partition="stages")
    ex = LocalExecutor(plan, g, {"xavier-0": "cuda:0", "nano-0": "cuda:0"})
    with strict_fp32():  # cuDNN's TF32 is ~1e-3 off
        y, times = ex.run_timed(x, warmup=1)
    assert y.device == ex.head.torch_device  # the result is where the head ran
    assert_exact(y.cpu(), ref)
    assert times["compute_s"].shape == (len(plan.volumes), 4)
    # the original graph's modules stay on the cpu
    assert all(p.device.type == "cpu" for p in g.gm.parameters())


def test_strict_fp32_turns_tf32_off_and_restores_it() -> None:
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        with pytest.raises(RuntimeError, match="inside"), strict_fp32():
            assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
            raise RuntimeError("inside")
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before
