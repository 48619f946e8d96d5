"""HyPS: layer spans, memory budgets, neuron-split costs, the planner and its scorer."""

from __future__ import annotations

import json
import math

import pytest

from splitgym.agents.planners import run_planner
from splitgym.agents.planners.neurons.hyps import pieces_that_fit
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError, PlanError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.network import Link
from splitgym.costmodels.neurons.hybrid_partitions import hybrid_partitions
from splitgym.costmodels.neurons.hyps_cost import score_hybrid
from splitgym.costmodels.neurons.neuron_spans import (
    MEMORY_FILE,
    device_memory,
    equal_parts,
    fewest_parts,
    layer_spans,
    memory_model,
    neuron_split_cost,
    param_threshold,
    partition_bytes,
)
from splitgym.costmodels.profiles import profile_for
from splitgym.experiments.cli import main

FC6_PARAMS = 25088 * 4096 + 4096
#: What conf/devices/pi3b-*.yaml reserve of the Pi's 1024 MiB (calibrated: README, HyPS).
PI_RESERVED_MB = Cluster.from_config("pi3b-1", 100).devices[0].reserved_mb


def pis(n: int, memory_mb: float = 1024, reserved_mb: float = PI_RESERVED_MB, bandwidth: float = 100) -> Cluster:
    devs = [{"name": f"pi-{i}", "board": "pi3b+", "memory_mb": memory_mb, "reserved_mb": reserved_mb} for i in range(n)]
    return Cluster.from_config({"name": f"pis{n}", "devices": devs}, bandwidth)


@pytest.fixture(scope="module")
def spans(vgg16: ModelGraph):
    return layer_spans(vgg16)


def test_vgg16_has_the_papers_21_layers_and_fc6_is_l19(spans) -> None:
    assert len(spans) == 21  # 13 conv + 5 pool + 3 fc (HY L278)
    assert [s.kind for s in spans].count("conv") == 13 and sum(s.pool for s in spans) == 5
    fc6 = spans[18]
    assert fc6.name == "classifier_0" and fc6.params == FC6_PARAMS and fc6.splittable
    assert fc6.in_bytes == 512 * 7 * 7 * 4 and fc6.neurons == 4096
    assert sum(s.params for s in spans) == 138_357_544  # the paper's 138.4 M (HY L260)
    assert not any(s.splittable for s in spans if s.pool)


def test_memory_budget_and_threshold_of_a_1gb_pi() -> None:
    mem = device_memory(pis(1))["pi-0"]
    assert mem.usable_bytes == (1024 - PI_RESERVED_MB) * 2**20
    thr = param_threshold(mem.usable_bytes)
    m = memory_model()
    assert thr == int((mem.usable_bytes - m.constant_bytes) // (m.weights * 4))
    # the paper's implied range: 4 parts of fc6 fit, 3 do not (PAPERS-AUDIT A.4)
    assert math.ceil(FC6_PARAMS / 4) <= thr < math.ceil(FC6_PARAMS / 3)
    # a board's memory is the default budget; a local CPU has none
    local = Cluster.from_config("local4", 100)
    assert device_memory(local)["cpu-0"].usable_bytes is None
    nano = device_memory(Cluster.from_config("DB", 100))["nano-0"]
    assert nano.total_bytes == 4 * 2**30 and nano.reserved_bytes == 0


@pytest.mark.parametrize("group, n", [("pi3b-1", 1), ("pi3b-4", 4)])
def test_pi_groups_carry_their_memory(group: str, n: int) -> None:
    cluster = Cluster.from_config(group, "pi-lan")
    assert cluster.size == n and {d.board for d in cluster.devices} == {"pi3b+"}
    assert {(d.memory_mb, d.reserved_mb) for d in cluster.devices} == {(1024.0, PI_RESERVED_MB)}
    assert cluster.network.overhead_s == pytest.approx(1.3e-3)


def test_fc6_needs_at_least_4_parts_on_a_1gb_device(vgg16: ModelGraph, spans) -> None:
    usable = device_memory(pis(1))["pi-0"].usable_bytes
    assert fewest_parts(spans[18], usable) == 4
    a, b = equal_parts(4096, 3)[0]
    assert partition_bytes([spans[18]], (b - a) / 4096) > usable
    a, b = equal_parts(4096, 4)[0]
    assert partition_bytes([spans[18]], (b - a) / 4096) <= usable
    plan = run_planner("hyps", vgg16, pis(1))
    (split,) = plan.neuron_splits
    assert split.layer == "classifier_0" and len(split.parts) == 4
    assert [(p.start, p.end) for p in split.parts] == [(0, 1024), (1024, 2048), (2048, 3072), (3072, 4096)]
    assert plan.meta["mandatory"] == ["classifier_0"]


def test_plan_peak_memory_is_under_each_budget(vgg16: ModelGraph) -> None:
    for n in (1, 4):
        cluster = pis(n)
        plan = run_planner("hyps", vgg16, cluster)
        score = score_hybrid(plan, vgg16)
        assert score.fits
        for d in cluster.names:
            assert 0 < score.peak_bytes[d] <= (1024 - PI_RESERVED_MB) * 2**20
        # every layer runs exactly once, in order
        parts = hybrid_partitions(plan, vgg16)
        covered = [i for p in parts for i in range(p.first, p.last + 1)]
        assert covered == list(range(21))


def test_four_devices_give_the_papers_fig5_layout(vgg16: ModelGraph) -> None:
    plan = run_planner("hyps", vgg16, pis(4))
    # 4 V-partitions: two conv stretches cut at pool4 (the smallest map before fc6), fc6, fc7+fc8
    assert [(s.first, s.last) for s in plan.stages] == [(0, 13), (14, 17)]
    assert len({s.device for s in plan.stages}) == 2
    assert {p.device for p in plan.neuron_splits[0].parts} == {"pi-0", "pi-1", "pi-2", "pi-3"}
    assert plan.head_device is not None
    # only what memory needs: 3 partitions
    lean = run_planner("hyps", vgg16, pis(4), partitions=0)
    assert [(s.first, s.last) for s in lean.stages] == [(0, 17)]


def test_no_split_without_a_memory_limit_and_a_threshold_forces_one(vgg16: ModelGraph) -> None:
    local = Cluster.from_config("local4", 100)
    plan = run_planner("hyps", vgg16, local, partitions=0)
    assert plan.neuron_splits is None and plan.meta["mandatory"] == []
    plan = run_planner("hyps", vgg16, local, threshold=10_000_000, partitions=0)
    got = {ns.layer: len(ns.parts) for ns in plan.neuron_splits}
    assert got == {"classifier_0": 11, "classifier_3": 2}  # ceil(102.8/10), ceil(16.8/10)


def test_parts_option_and_its_errors(vgg16: ModelGraph) -> None:
    plan = run_planner("hyps", vgg16, pis(1), parts=9)
    assert len(plan.neuron_splits[0].parts) == 9
    with pytest.raises(ConfigError, match="parts: layer classifier_0 needs at least 4"):
        run_planner("hyps", vgg16, pis(1), parts=3)
    with pytest.raises(ConfigError, match="threshold: expected"):
        run_planner("hyps", vgg16, pis(1), threshold=0)
    with pytest.raises(ConfigError, match="reserved_mb"):
        run_planner("hyps", vgg16, pis(1, reserved_mb=2000))
    with pytest.raises(ConfigError, match="memory_mb: expected MiB"):
        pis(1, memory_mb=-5)
    with pytest.raises(ConfigError, match="do not fit|does not fit"):
        run_planner("hyps", vgg16, pis(1, reserved_mb=1000))


def test_neuron_split_cost_shares_compute_and_broadcasts_input(vgg16: ModelGraph, spans) -> None:
    prof = profile_for("pi3b+", vgg16)
    link = Link(100.0, latency_s=0.001)
    fc6 = spans[18]
    costs = {k: neuron_split_cost(fc6, equal_parts(4096, k), vgg16, [prof] * k, [link] * k) for k in (4, 8, 50)}
    whole = prof.head_seconds * fc6.flops / vgg16.head.flops
    for k, c in costs.items():
        assert sum(c.compute_s) == pytest.approx(whole)
        assert sum(c.bytes_in) == k * fc6.in_bytes  # every part gets the whole input
        assert sum(c.bytes_out) == pytest.approx(fc6.out_bytes, abs=k)
    comm = [costs[k].communication_s for k in (4, 8, 50)]
    assert comm == sorted(comm) and comm[0] < comm[-1]


def test_pool_cuts_when_memory_needs_them() -> None:
    g = ModelGraph.from_torchvision("vgg11", 64)
    sp = layer_spans(g)
    units = [s for s in sp if s.unit is not None]
    whole = partition_bytes(units)
    budget = int(whole * 0.75)
    pieces = pieces_that_fit(units, budget, {s.index for s in sp if s.pool})
    assert pieces is not None and len(pieces) >= 2
    for p in pieces:
        assert p[-1].pool or p[-1] is units[-1]
        assert partition_bytes(p) <= budget
    assert [s for p in pieces for s in p] == units
    assert pieces_that_fit(units, 1000, {s.index for s in sp if s.pool}) is None


def test_bad_hybrid_plans_are_one_line_errors(vgg16: ModelGraph) -> None:
    plan = run_planner("hyps", vgg16, pis(4))
    ns = plan.neuron_splits[0]
    gap = ns.model_copy(update={"parts": [ns.parts[0], *ns.parts[2:]]})
    with pytest.raises(PlanError, match=r"neuron_splits.0.parts.1: expected neurons \[1024"):
        hybrid_partitions(plan.model_copy(update={"neuron_splits": [gap]}), vgg16)
    unknown = ns.model_copy(update={"layer": "nope"})
    with pytest.raises(PlanError, match="neuron_splits.layer: no layer 'nope'"):
        hybrid_partitions(plan.model_copy(update={"neuron_splits": [unknown]}), vgg16)
    pool = ns.model_copy(update={"layer": "features_30"})
    with pytest.raises(PlanError, match="cannot be neuron-split"):
        hybrid_partitions(plan.model_copy(update={"neuron_splits": [pool]}), vgg16)
    with pytest.raises(PlanError, match="stages: unit 14"):
        hybrid_partitions(plan.model_copy(update={"stages": plan.stages[:1]}), vgg16)
    with pytest.raises(PlanError, match="head_device: needed"):
        hybrid_partitions(plan.model_copy(update={"head_device": None}), vgg16)


def test_cli_plan_hyps(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    out = tmp_path / "hyps.json"
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
                "pi3b-4",
                "--set",
                "threshold=1000000",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "classifier_0 neurons" in text and out.exists()
    assert main(["simulate", str(out), "--json"]) == 0
    sc = json.loads(capsys.readouterr().out)["detail"]
    assert sc["fits"] and sc["latency_s"] > 0 and any(p["kind"] == "neurons" for p in sc["partitions"])
    rc = main(["plan", "hyps", "--model", "vgg11", "--input", "64", "--devices", "pi3b-4", "--set", "parts=0"])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip().splitlines() == ["splitgym plan: error: parts: expected >= 1 neuron parts, got 0"]


def test_memory_model_bounds_every_measured_case(spans) -> None:
    """The calibration file's cases (fresh hub workers, VmPeak over their base) are each at most
    what the model says for that part, and the model over-states none by more than the file's
    residual range; the weights are held once (the worker's zero-copy buffer), torch.load twice."""
    data = json.loads(MEMORY_FILE.read_text())
    assert data["command"] == "python -m splitgym.experiments.hyps_memory"
    by_name = {s.name: s for s in spans}
    assert len(data["cases"]) >= 25
    for case in data["cases"]:
        span = by_name[case["layer"]]
        share = case["weights"] / span.param_bytes if span.param_bytes else 1.0
        predicted = partition_bytes([span], share)
        assert (
            case["address_space_bytes"]
            <= predicted
            <= case["address_space_bytes"] + (data["max_over_mib"] + 0.01) * 2**20
        )
    assert 0.95 < memory_model().weights < 1.05
    (loaded,) = [c for c in data["extra"] if c["case"] == "fc6/2 via torch.load"]
    assert loaded["address_space_bytes"] > 1.9 * loaded["weight_bytes"]


def test_partition_memory_holds_its_input_to_the_end(spans) -> None:
    """A multi-layer partition keeps its input buffer while later layers run; a neuron part's
    weights and output shrink with its share, its input does not."""
    m = memory_model()
    conv12, pool1 = spans[1], spans[2]
    alone = partition_bytes([pool1])
    both = partition_bytes([conv12, pool1])
    assert both >= m.weights * conv12.param_bytes + alone + m.activations * conv12.in_bytes - 1
    half = partition_bytes([spans[18]], 0.5)
    assert half < partition_bytes([spans[18]]) / 2 + m.constant_bytes + m.activations * spans[18].in_bytes
