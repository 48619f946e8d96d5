"""MS-MDI's queueing simulator, AR-MDI allocation and the three scheduling policies."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splitgym.agents.planners import run_planner
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.network import Network
from splitgym.costmodels.stages.mdi_allocation import allocate, ring_order, unit_weights
from splitgym.costmodels.stages.queue_policies import (
    ARMDI,
    SCHEDULERS,
    BackPressure,
    Local,
    get_scheduler,
)
from splitgym.costmodels.stages.queue_sim import IDLE, LOCAL, QueueSim, QueueSystem, WorkerEvent
from splitgym.envs.msmdi_scenarios import get_mdi_scenario
from splitgym.experiments import cli


def system(
    N: int = 3,
    sources: tuple[int, ...] = (0, 1),
    rates=(5.0, 10.0),
    images=(20, 30),
    U: int = 4,
    speeds=None,
    mbps: float = 100.0,
    **kw,
) -> QueueSystem:
    """A synthetic system: U units of 0.1 s each on a speed-1 worker, 100 KB activations."""
    speeds = speeds or [1.0] * N
    unit_s = np.array([[0.1 / s] * U for s in speeds])
    names = [f"w{i}" for i in range(N)]
    return QueueSystem(
        names,
        unit_s,
        np.zeros(N),
        np.full(U + 1, 1e5),
        np.ones(U),
        Network({n: mbps for n in names}),
        list(sources),
        list(rates),
        list(images),
        **kw,
    )


def check_conservation(sim: QueueSim, res) -> None:
    assert sim.n_done == sim.total == res.images
    assert np.isfinite(res.done).all() and np.isfinite(res.admit).all()
    assert (res.admit >= res.arrive - 1e-9).all() and (res.done >= res.admit - 1e-9).all()
    assert set(np.unique(res.path)) <= {0, 1}
    # nothing left anywhere
    assert not any(sim.reservoir) and not any(sim.qlocal)
    assert not any(q for row in sim.qmdi for q in row) and not any(sim.busy)
    assert all(ev[2] == 4 for ev in sim._heap)  # only worker changes after the end remain


@pytest.mark.parametrize("policy", sorted(SCHEDULERS))
def test_every_image_finishes_exactly_once(policy: str):
    sim = QueueSim(system(), seed=1)
    res = sim.run(get_scheduler(policy))
    check_conservation(sim, res)
    assert res.makespan_s == pytest.approx(np.max(res.done))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    N=st.integers(1, 4),
    data=st.data(),
    slot=st.sampled_from([0.0, 1e-3, 0.05]),
    policy=st.sampled_from(sorted(SCHEDULERS)),
    seed=st.integers(0, 1000),
)
def test_conservation_random_systems_with_joins_and_leaves(N, data, slot, policy, seed):
    S = data.draw(st.integers(1, N))
    sources = tuple(data.draw(st.permutations(range(N)))[:S])
    helpers = [n for n in range(N) if n not in sources]
    events = []
    for _ in range(data.draw(st.integers(0, 4))):
        if helpers:
            kind = data.draw(st.sampled_from(["leave", "join", "delay"]))
            w = data.draw(st.sampled_from(helpers))
        else:
            kind, w = "delay", data.draw(st.integers(0, N - 1))
        events.append(WorkerEvent(data.draw(st.floats(0, 3)), w, kind, data.draw(st.floats(0.5, 3))))
    sys_ = system(
        N,
        sources,
        [data.draw(st.floats(1, 50)) for _ in sources],
        [data.draw(st.integers(0, 15)) for _ in sources],
        U=data.draw(st.integers(1, 5)),
        speeds=[data.draw(st.floats(0.5, 4)) for _ in range(N)],
        slot_s=slot,
        admit_per_slot=data.draw(st.integers(1, 3)),
        events=events,
    )
    sim = QueueSim(sys_, seed=seed)
    check_conservation(sim, sim.run(get_scheduler(policy)))


def test_local_moves_no_data_and_leaves_helpers_idle():
    sim = QueueSim(system(N=3, sources=(0, 1)), seed=0)
    res = sim.run(Local())
    assert res.bytes_sent == 0 and (res.path == 0).all() and res.busy_s[2] == 0


def test_ar_mdi_sends_everything_through_the_chain():
    sim = QueueSim(system(N=3), seed=0)
    res = sim.run(ARMDI())
    assert (res.path == 1).all() and res.bytes_sent > 0 and (res.busy_s > 0).all()


def test_overloaded_local_takes_images_times_service():
    sys_ = system(N=1, sources=(0,), rates=(1000.0,), images=(100,), U=4)
    res = QueueSim(sys_, seed=0).run(Local())
    assert res.makespan_s == pytest.approx(100 * 0.4, rel=0.01)


def test_event_driven_and_slotted_agree():
    a = QueueSim(system(images=(200, 300), slot_s=0.0), seed=3).run(BackPressure())
    b = QueueSim(system(images=(200, 300), slot_s=1e-4), seed=3).run(BackPressure())
    assert b.makespan_s == pytest.approx(a.makespan_s, rel=0.02)


def test_back_pressure_rule_on_hand_built_queues():
    sim = QueueSim(system(N=3, sources=(0, 1), images=(0, 0)), seed=0)
    bp = BackPressure()
    # source 0's chain with equal speeds and 4 units: w0 units 0 (+1?), w1, w2
    assert [n for n, _, _ in sim.stages[0]] == [0, 1, 2] and sim.succ[0][0] == 1 and sim.succ[0][2] == -1
    sim.qlocal[0].extend([0, 1, 2])  # q_l^0 = 3
    sim.qmdi[0][0].extend([3, 4, 5, 6, 7])  # q_0^0 = 5
    sim.qmdi[1][0].extend([8])  # q_1^0 = 1: differential 4 > 3
    assert bp.serve(sim, 0) == 0
    sim.qmdi[1][0].extend([9, 10])  # differential 2 < 3: local wins
    assert bp.serve(sim, 0) == LOCAL
    # helper w2 (not a source): q_l = -M, it serves MDI work when its differential is positive
    assert bp.serve(sim, 2) == IDLE
    sim.qmdi[2][0].append(11)  # last stage: downstream is the sink (0)
    assert bp.serve(sim, 2) == 0
    assert BackPressure(literal_exit=True).serve(sim, 2) == IDLE  # literal: compares with q_0^0 = 5
    # admission to the smaller of q_l^0 (3) and q_0^0 (5): local; with q_l larger: MDI
    assert bp.admit(sim, 0) is True
    sim.qlocal[0].extend(range(20, 30))
    assert bp.admit(sim, 0) is False
    # a helper with non-positive differential idles even with a non-empty queue
    sim.qmdi[1][0].clear()
    sim.qmdi[1][0].append(12)
    sim.qmdi[2][0].extend([13, 14])
    assert bp.serve(sim, 1) == IDLE


def test_a_dead_helper_changes_nothing():
    """Worker 2 never alive: the run equals the two-worker system (same ring order, same seed)."""
    a = QueueSim(system(N=3, alive=[True, True, False], images=(50, 80)), seed=5).run(BackPressure())
    b = QueueSim(system(N=2, images=(50, 80)), seed=5).run(BackPressure())
    assert a.makespan_s == pytest.approx(b.makespan_s) and a.busy_s[2] == 0


def test_leave_restarts_work_and_slower_delays_cost_time():
    base = system(N=3, rates=(50.0, 50.0), images=(100, 100))
    r0 = QueueSim(base, seed=2).run(ARMDI())
    leave = system(N=3, rates=(50.0, 50.0), images=(100, 100), events=[WorkerEvent(1.0, 2, "leave")])
    sim = QueueSim(leave, seed=2)
    r1 = sim.run(ARMDI())
    check_conservation(sim, r1)
    assert r1.restarts > 0 and r1.makespan_s > r0.makespan_s
    assert all(n != 2 for chain in sim.stages for n, _, _ in chain)  # re-allocated without it
    slow = system(N=3, rates=(50.0, 50.0), images=(100, 100), events=[WorkerEvent(0.5, 1, "delay", 3.0)])
    assert QueueSim(slow, seed=2).run(ARMDI()).makespan_s > r0.makespan_s
    with pytest.raises(ConfigError, match="source worker 0 cannot leave"):
        system(events=[WorkerEvent(1.0, 0, "leave")])


def test_allocation_is_proportional_to_speed_and_covers_the_model():
    w = np.ones(12)
    assert allocate(w, [1, 1, 1]) == [(0, 4), (4, 8), (8, 12)]
    assert allocate(w, [2, 1, 1]) == [(0, 6), (6, 9), (9, 12)]
    assert allocate(w, [1, 100]) == [(0, 0), (0, 12)]  # the slow worker rounds to an empty stage
    assert ring_order(2, [True, False, True, True]) == [2, 3, 0]
    with pytest.raises(ConfigError, match="speeds"):
        allocate(w, [1, 0])


@settings(max_examples=50, deadline=None)
@given(
    w=st.lists(st.floats(0.0, 1e6), min_size=1, max_size=30),
    speeds=st.lists(st.floats(0.01, 100), min_size=1, max_size=6),
)
def test_allocation_ranges_are_contiguous(w, speeds):
    w = np.array(w) + 1.0
    ranges = allocate(w, speeds)
    assert len(ranges) == len(speeds) and ranges[0][0] == 0 and ranges[-1][1] == len(w)
    assert all(a <= b for a, b in ranges) and all(r[1] == q[0] for r, q in zip(ranges, ranges[1:]))


def test_bad_inputs_are_one_line():
    with pytest.raises(ConfigError, match="rates"):
        system(rates=(5.0,))
    with pytest.raises(ConfigError, match="sources"):
        system(sources=(0, 7))
    with pytest.raises(ConfigError, match="weight"):
        unit_weights(ModelGraph.from_torchvision("vgg11", 64), "bytes")
    with pytest.raises(ConfigError, match="policy"):
        get_scheduler("fifo")


def test_ar_mdi_planner_stages_and_cli(tmp_path, capsys):
    g = ModelGraph.from_torchvision("vgg11", 64)
    cluster = Cluster.from_config("DB", 300)  # 2 Xavier + 2 Nano: Xaviers get more parameters
    plan = run_planner("ar-mdi", g, cluster, source="nano-0")
    plan.check(g)
    st_ = plan.stages
    assert st_[0].device == "nano-0" and st_[0].first == 0 and st_[-1].last == g.num_units - 1
    assert all(a.last + 1 == b.first for a, b in zip(st_, st_[1:]))
    assert plan.meta["shares"]["xavier-0"] > plan.meta["shares"]["nano-0"]
    assert [(v.first, v.last) for v in plan.volumes] == [(s.first, s.last) for s in st_]
    out = tmp_path / "p.json"
    assert cli.main(
        [
            "plan",
            "ar-mdi",
            "--model",
            "vgg11",
            "--input",
            "64",
            "--devices",
            "tx2x3",
            "--bandwidth",
            "100",
            "--set",
            "weight=flops",
            "-o",
            str(out),
        ]
    ) in (0, None)
    data = json.loads(out.read_text())
    assert data["method"] == "ar-mdi" and [s["device"] for s in data["stages"]][0] == "tx2-0"
    assert "stage" in capsys.readouterr().out


def test_scenario_from_profiles_runs_all_policies():
    sc = get_mdi_scenario("ms-mdi-3-small")
    sys_ = sc.system()
    assert sys_.full_s()[0] == pytest.approx(0.2)  # calibrated
    out = {n: QueueSim(sys_, seed=0).run(get_scheduler(n)) for n in SCHEDULERS}
    assert out["local"].busy_s[2] == 0 and out["ar-mdi"].busy_s[2] > 0
    for r in out.values():
        assert r.images == 300


def test_shared_medium_serialises_transfers():
    kw = dict(N=3, rates=(100.0, 100.0), images=(40, 40), mbps=5.0)
    free = QueueSim(system(**kw), seed=4).run(ARMDI())
    shared_sim = QueueSim(system(**kw, contention="shared"), seed=4)
    shared = shared_sim.run(ARMDI())
    assert shared.makespan_s > free.makespan_s and shared.bytes_sent == free.bytes_sent
    sender = QueueSim(system(**kw, contention="sender"), seed=4).run(ARMDI())
    assert free.makespan_s <= sender.makespan_s <= shared.makespan_s + 1e-9
    # Local sends nothing, so contention cannot change it
    assert QueueSim(system(**kw, contention="shared"), seed=4).run(Local()).makespan_s == pytest.approx(
        QueueSim(system(**kw), seed=4).run(Local()).makespan_s
    )
    with pytest.raises(ConfigError, match="contention"):
        system(contention="wifi")


def test_max_weight_weighs_queues_by_service_time():
    from splitgym.costmodels.stages.queue_policies import MaxWeight

    sim = QueueSim(system(N=2, sources=(0,), rates=(5.0,), images=(0,), U=4), seed=0)
    mw = MaxWeight()
    # source 0 runs 2 of 4 units for MDI (0.2 s) and 4 for local (0.4 s)
    assert sim.stage_seconds(0, 0) == pytest.approx(0.2) and sim.full_seconds(0) == pytest.approx(0.4)
    sim.qlocal[0].extend([0, 1, 2])  # 3 / 0.4 = 7.5 per second
    sim.qmdi[0][0].extend([3, 4])  # (2 - 0) / 0.2 = 10 per second: MDI wins by rate
    assert mw.serve(sim, 0) == 0 and BackPressure().serve(sim, 0) == LOCAL  # counts: 3 > 2
    # admission: local (3+1)*0.4 = 1.6 s vs MDI (2+1)*0.2 + (0+1)*0.2 = 0.8 s
    assert mw.admit(sim, 0) is False
