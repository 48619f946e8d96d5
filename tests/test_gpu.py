"""The CUDA paths: the profiler on a GPU and every volume planner's plan run with a GPU part.

Marked ``gpu``: CI has no GPU, so ``make test`` deselects them; run them with ``pytest -m gpu``
where ``torch.cuda.is_available()`` (the README's device check does).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from splitgym.agents.planners import VOLUME_PLANNERS, run_planner
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import build_model
from splitgym.costmodels.profiler import machine_info, profile_model
from splitgym.costmodels.profiles import DeviceProfile, cached_profile_path
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.executors import LocalExecutor
from splitgym.executors.volumes.volume_local import strict_fp32
from splitgym.experiments.predicted_vs_measured_gpu import CPU, GPU, gpu_cluster

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.fixture(scope="module")
def graph() -> ModelGraph:
    return ModelGraph.from_module(build_model("vgg11", seed=0), (3, 64, 64), name="vgg11")


def measured(graph: ModelGraph) -> dict[str, DeviceProfile]:
    """Both boards' profiles, quickly, cached where the planners look (SPLITGYM_HOME: conftest)."""
    out = {}
    for board, device in ((GPU, "cuda:0"), (CPU, "cpu")):
        out[board] = profile_model(graph, device=device, name=board, progress=False, passes=1, min_run_time=0.005)
        path = cached_profile_path(board, graph)
        path.parent.mkdir(parents=True, exist_ok=True)
        out[board].save(path)
    return out


@pytest.fixture(scope="module")
def profiles(graph):
    return measured(graph)


def test_profiling_on_the_gpu_leaves_the_graph_on_the_cpu(graph):
    profile_model(graph, device="cuda:0", name=GPU, progress=False, passes=1, min_run_time=0.001)
    assert all(p.device.type == "cpu" for p in graph.gm.parameters())
    assert all(
        p.device.type == "cpu" for op in graph.ops.values() if op.module is not None for p in op.module.parameters()
    )


def test_the_gpu_profile_is_measured_on_the_gpu_and_drives_the_simulator(graph, profiles):
    gpu = profiles[GPU]
    assert machine_info("cuda:0")["gpu"] == torch.cuda.get_device_name(0)
    table = gpu.table(graph)
    assert np.isfinite(table[:, 1:]).all() and (table[:, 1:] > 0).all() and gpu.head_seconds > 0
    # the whole model on the GPU is faster than on one CPU thread at this size, as measured
    sim = Simulator(graph, gpu_cluster(1), profiles)
    whole = [(0, graph.num_units - 1)]
    H = graph.units[-1].height
    on_gpu, on_cpu = sim.score(whole, np.array([[0, H, H]])), sim.score(whole, np.array([[0, 0, H]]))
    assert on_gpu < on_cpu


@pytest.mark.parametrize("model", ["vgg11", "resnet18"])
def test_every_volume_plan_with_a_gpu_part_equals_the_unsplit_model(model):
    g = ModelGraph.from_module(build_model(model, seed=0), (3, 64, 64), name=model)
    measured(g)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ref = g.gm(x)
    cluster = gpu_cluster(2)
    with strict_fp32():
        for name in VOLUME_PLANNERS:
            plan = run_planner(name, g, cluster)
            ex = LocalExecutor(plan, g, {"gpu-0": "cuda:0"})
            y, times = ex.run_timed(x, warmup=1)
            for p in (p for stage in ex.stages for p in stage if p.module is not None):
                want = "cuda" if p.device == "gpu-0" else "cpu"
                assert p.torch_device.type == want and all(t.device.type == want for t in p.module.parameters())
            err = float((y.cpu() - ref).abs().max() / ref.abs().max())
            assert err < 1e-5, f"{name}: relative error {err:.1e}"
            assert times["compute_s"].shape == (len(plan.volumes), cluster.size)
