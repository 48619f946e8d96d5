"""HyPS execution: neuron-split layers for real, and the manager / workers / hub runtime."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from splitgym.agents.planners import run_planner
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import SplitgymError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.neurons.neuron_spans import equal_parts, layer_spans
from splitgym.costmodels.plan import Plan
from splitgym.executors.neurons.hub_timing import COLUMNS
from splitgym.executors.neurons.hyps_hub import MemoryBudgetError, WorkerLost, run_hyps
from splitgym.executors.neurons.neuron_modules import concat_parts, partition_module, slice_layer

from .helpers import synthetic_profile

#: What conf/devices/pi3b-*.yaml reserve of the Pi's 1024 MiB.
PI_RESERVED_MB = Cluster.from_config("pi3b-1", 100).devices[0].reserved_mb


class Tiny(nn.Module):
    """Two conv/pool stages and a classifier whose first layer (2.1 M parameters, 8 MiB) does not
    fit a 4 MiB budget: the shape of VGG's problem at a size the default suite can afford."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 8 * 8, 2048), nn.ReLU(), nn.Linear(2048, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@pytest.fixture(scope="module")
def tiny() -> tuple[nn.Module, ModelGraph]:
    torch.manual_seed(0)
    m = Tiny().eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        m.features[4].running_mean.uniform_(-1, 1)
        m.features[4].running_var.uniform_(0.5, 2)
    return m, ModelGraph.from_module(m, (3, 32, 32), name="tiny")


def tiny_plan(graph: ModelGraph, n: int, mbps: float = 100) -> Plan:
    devs = [{"name": f"d{i}", "board": "local-cpu", "memory_mb": 64, "reserved_mb": 60} for i in range(n)]
    cluster = Cluster.from_config({"name": f"tiny{n}", "devices": devs}, mbps)
    return run_planner(
        "hyps", graph, cluster, partitions=0, profiles={"local-cpu": synthetic_profile(graph, 1e-4, head=1e-3)}
    )


@pytest.mark.parametrize("layer", [nn.Linear(32, 24), nn.Conv2d(6, 10, 3, padding=1)])
def test_neuron_parts_concatenate_to_the_layer(layer: nn.Module) -> None:
    torch.manual_seed(1)
    x = torch.randn(2, 32) if isinstance(layer, nn.Linear) else torch.randn(2, 6, 9, 9)
    n = layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels
    for k in (1, 3, n):
        parts = [slice_layer(layer, a, b) for a, b in equal_parts(n, k)]
        with torch.no_grad():
            outs = [p(x) for p in parts]
            ref = layer(x)
        for (a, b), o in zip(equal_parts(n, k), outs):
            torch.testing.assert_close(o, ref[:, a:b])
        torch.testing.assert_close(concat_parts(outs), ref)
        assert len(parts) == k
        for name, p in layer.named_parameters():  # the parts' parameters together are the original's
            torch.testing.assert_close(torch.cat([dict(q.named_parameters())[name] for q in parts]), p)


@settings(max_examples=25, deadline=None)
@given(
    conv=st.booleans(),
    c_in=st.integers(1, 8),
    n=st.integers(1, 12),
    cuts=st.lists(st.floats(0, 1), max_size=4),
    seed=st.integers(0, 2**16),
)
def test_any_neuron_ranges_concatenate_to_the_layer(
    conv: bool, c_in: int, n: int, cuts: list[float], seed: int
) -> None:
    torch.manual_seed(seed)
    layer = nn.Conv2d(c_in, n, 3, stride=2, padding=1) if conv else nn.Linear(c_in, n)
    x = torch.randn(1, c_in, 7, 5) if conv else torch.randn(3, c_in)
    bounds = sorted({0, n, *(int(c * n) for c in cuts)})
    ranges = list(zip(bounds[:-1], bounds[1:]))
    with torch.no_grad():
        got = concat_parts([slice_layer(layer, a, b)(x) for a, b in ranges])
        torch.testing.assert_close(got, layer(x))


def test_partitions_and_split_spans_equal_the_model(tiny) -> None:
    m, g = tiny
    spans = layer_spans(g)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = m(x)
        y = x
        for i, s in enumerate(spans):
            if s.splittable:  # conv+BN+ReLU and linear+ReLU spans, split in 3
                y = concat_parts([partition_module(g, spans, i, i, r)(y) for r in equal_parts(s.neurons, 3)])
            else:
                y = partition_module(g, spans, i, i)(y)
    torch.testing.assert_close(y, ref)
    whole = partition_module(g, spans, 1, 3)
    assert set(whole.state_dict()) == {
        "features.3.weight",
        "features.3.bias",
        "features.4.weight",
        "features.4.bias",
        "features.4.running_mean",
        "features.4.running_var",
        "features.4.num_batches_tracked",
    }


def _sent(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "sent.jsonl").read_text().splitlines()]


def test_hub_run_equals_the_model_and_workers_see_only_their_part(tiny, tmp_path: Path) -> None:
    m, g = tiny
    plan = tiny_plan(g, 2)
    (ns,) = plan.neuron_splits
    assert ns.layer == "classifier_1" and len(ns.parts) >= 2  # 8 MiB of weights, 4 MiB budgets
    x = torch.randn(1, 3, 32, 32)
    res = run_hyps(plan, g, x, tmp_path / "run")
    torch.testing.assert_close(res.output, m(x).detach())
    sent = _sent(res.folder)
    params = {k for k, _ in m.named_parameters()}
    got = {w for s in sent for w in s["weights"]}
    assert "features.0.weight" not in got  # the first layer runs in the safe zone
    assert params - {"features.0.weight", "features.0.bias"} <= got
    for s in sent:
        assert s["input_shape"] != [1, 3, 32, 32]  # never the image
        if s["key"].startswith(f"p{1}.part"):
            assert s["weight_shapes"][0][0] < 2048  # only a slice of the split layer


def test_the_unsplit_layer_fails_cleanly_on_its_budget(tiny, tmp_path: Path) -> None:
    _, g = tiny
    plan = tiny_plan(g, 1)
    (ns,) = plan.neuron_splits
    whole = ns.model_copy(update={"parts": [ns.parts[0].model_copy(update={"end": 2048})]})
    with pytest.raises(
        MemoryBudgetError,
        match=r"^device d0: layer classifier_1 does not fit in its "
        r"memory budget of 4 MiB \(its 8.0 MiB of weights: MemoryError\)$",
    ):
        run_hyps(plan.model_copy(update={"neuron_splits": [whole]}), g, torch.randn(1, 3, 32, 32), tmp_path)


def test_a_killed_worker_loses_nothing_and_the_run_resumes(tiny, tmp_path: Path) -> None:
    m, g = tiny
    plan = tiny_plan(g, 1)
    n_parts = len(plan.neuron_splits[0].parts)
    x = torch.randn(1, 3, 32, 32)
    folder = tmp_path / "run"
    errors: list[BaseException] = []

    def first_run() -> None:
        try:
            run_hyps(plan, g, x, folder, delay_s=0.6)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    th = threading.Thread(target=first_run)
    th.start()
    journal = folder / "journal.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (journal.exists() and "p1.part0" in journal.read_text()):
        time.sleep(0.05)
    pid = json.loads((folder / "workers.json").read_text())["d0"]
    os.kill(pid, signal.SIGKILL)  # mid-run: p1.part1 is being computed
    th.join(timeout=60)
    assert errors and isinstance(errors[0], WorkerLost) and "resume" in str(errors[0])
    before = [json.loads(line)["key"] for line in journal.read_text().splitlines()]
    assert "p1.part0" in before and "p2" not in before
    res = run_hyps(plan, g, None, folder)  # resume: no image needed, the hub has it
    torch.testing.assert_close(res.output, m(x).detach())
    assert set(before) <= set(res.reused) and not set(before) & set(res.computed)
    keys = [json.loads(line)["key"] for line in journal.read_text().splitlines()]
    assert len(keys) == len(set(keys))  # nothing computed twice into the result
    assert {f"p1.part{j}" for j in range(n_parts)} <= set(keys)


@pytest.mark.slow
def test_vgg16_fc6_on_a_1gb_pi_worker(vgg16: ModelGraph, tmp_path: Path) -> None:
    """The real thing: fc6 (392 MiB of weights) fails on a worker with the 116 MiB a 1 GB Pi
    leaves (conf/devices/pi3b-1.yaml); the HyPS plan (4 parts) runs and equals the model."""
    plan = run_planner("hyps", vgg16, Cluster.from_config("pi3b-1", 100))
    x = torch.randn(1, 3, 224, 224)
    res = run_hyps(plan, vgg16, x, tmp_path / "hyps")
    with torch.no_grad():
        ref = vgg16.gm(x)
    torch.testing.assert_close(res.output, ref, rtol=1e-4, atol=1e-4)
    ns = plan.neuron_splits[0]
    whole = ns.model_copy(update={"parts": [ns.parts[0].model_copy(update={"end": 4096})]})
    with pytest.raises(MemoryBudgetError, match=r"layer classifier_0 does not fit in its memory budget of 116 MiB"):
        run_hyps(plan.model_copy(update={"neuron_splits": [whole]}), vgg16, x, tmp_path / "unsplit")


@pytest.mark.slow
def test_cli_execute_hub_runs_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from splitgym.experiments.cli import main

    plan = tmp_path / "plan.json"
    assert (
        main(
            [
                "plan",
                "hyps",
                "--model",
                "vgg11",
                "--input",
                "64",
                "--devices",
                "pi3b-1",
                "--set",
                "threshold=2000000",
                "-o",
                str(plan),
            ]
        )
        == 0
    )  # convs split too
    capsys.readouterr()
    folder = tmp_path / "run"
    assert main(["execute", str(plan), "--backend", "hub", "--folder", str(folder), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    first = data["detail"]
    assert data["kind"] == "neurons" and data["backend"] == "hub"
    assert not first["resumed"] and data["max_abs_error"] < 1e-4 and not first["reused"]
    assert main(["execute", str(plan), "--folder", str(folder), "--json"]) == 0  # hub: the neurons default
    again = json.loads(capsys.readouterr().out)["detail"]
    assert again["resumed"] and again["computed"] == [] and set(first["computed"]) <= set(again["reused"])


def test_hub_breakdown_sums_to_each_partition_and_a_slow_link_grows_communication(tiny, tmp_path: Path) -> None:
    m, g = tiny
    x = torch.randn(1, 3, 32, 32)
    fast = run_hyps(tiny_plan(g, 1, 1000.0), g, x, tmp_path / "fast")
    slow_plan = tiny_plan(g, 1, 2.0)
    slow = run_hyps(slow_plan, g, x, tmp_path / "slow", links="emulated")
    net = slow_plan.cluster().network
    for res in (fast, slow):
        torch.testing.assert_close(res.output, m(x).detach())
        assert res.partitions and len(res.parts) >= len(res.partitions)
        for row in res.partitions:  # one device: parts in turn, the columns add up to the wall time
            named = sum(row[c] for c in COLUMNS if c != "other_s")
            # within a tolerance: the hub's and the worker's intervals can overlap by a scheduling
            # slice (a write returns after the worker has read it) on this shared CPU
            assert row["wall_s"] > 0 and abs(row["wall_s"] - named) <= 0.25 * row["wall_s"] + 0.05
            assert row["other_s"] == pytest.approx(row["wall_s"] - named)
    assert all(p["link_s"] == 0 for p in fast.parts)
    for p in slow.parts:  # 2 Mbps: every feature map waits its bytes' link time, in and out
        expect = net.link("requester", "d0").seconds(p["input_bytes"]) + net.link("d0", "requester").seconds(
            p["output_bytes"]
        )
        assert p["link_s"] == pytest.approx(expect, rel=1e-6)
        assert p["communication_s"] >= p["link_s"]
    comm = [sum(r["communication_s"] for r in res.partitions) for res in (fast, slow)]
    assert comm[1] > comm[0] + 0.9 * sum(p["link_s"] for p in slow.parts)


def test_hub_links_are_none_or_emulated(tiny, tmp_path: Path) -> None:
    _, g = tiny
    with pytest.raises(SplitgymError, match=r"^links: the hub backend takes none or emulated, got 'netns'$"):
        run_hyps(tiny_plan(g, 1), g, torch.randn(1, 3, 32, 32), tmp_path, links="netns")


@pytest.mark.slow
@pytest.mark.parametrize("reserved_mb", [PI_RESERVED_MB, 784])
def test_planner_and_rlimit_agree_on_fc6(vgg16: ModelGraph, reserved_mb: float) -> None:
    """The fewest fc6 parts the planner accepts under a budget run under RLIMIT_AS at that budget,
    and one part fewer is refused there: the memory model and the enforced limit agree (at the
    Pi's budget, conf/devices/pi3b-1.yaml, and at 240 MiB)."""
    from splitgym.experiments.hyps_memory import probe, span_inputs

    budget = int((1024 - reserved_mb) * 2**20)
    devs = [{"name": "pi-0", "board": "pi3b+", "memory_mb": 1024, "reserved_mb": reserved_mb}]
    plan = run_planner("hyps", vgg16, Cluster.from_config({"name": "pi", "devices": devs}, 100), partitions=0)
    (ns,) = plan.neuron_splits
    k = len(ns.parts)
    assert ns.layer == "classifier_0" and k >= 2
    spans = layer_spans(vgg16)
    fc6 = next(s for s in spans if s.name == "classifier_0")
    torch.manual_seed(0)
    x = span_inputs(vgg16, spans, torch.randn(1, 3, 224, 224))[fc6.index]
    for parts, runs in ((k, True), (k - 1, False)):
        a, b = equal_parts(fc6.neurons, parts)[0]  # the largest part
        module = partition_module(vgg16, spans, fc6.index, fc6.index, (a, b))
        got = probe(module, x, budget)
        assert ("error" not in got) is runs, (parts, got.get("error"))
        if runs:
            with torch.no_grad():
                torch.testing.assert_close(got["output"], module(x))
        else:
            assert re.fullmatch(
                r"device probe: layer .* does not fit in its memory budget of \d+ MiB \(.*\)", got["error"]
            )
