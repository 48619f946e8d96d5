"""The real MS-MDI ring: live decisions over torch.distributed (exact outputs, every decision the
policy's for the state logged with it, every image once and back at its source), and replay."""

from __future__ import annotations

import io

import numpy as np
import pytest

from splitgym.agents.learned_admission import LearnedAdmission
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.run_folder import write_signed
from splitgym.costmodels.stages.queue_policies import BackPressure, Local, get_scheduler
from splitgym.costmodels.stages.queue_sim import IDLE, QueueSim, WorkerEvent
from splitgym.executors.stages.mdi_ring import RingResult, local_system, ring_tasks, run_mdi_ring
from splitgym.executors.stages.mdi_view import RingLayout, RingView, check_decisions


@pytest.fixture(scope="module")
def small():
    return local_system("vgg11", 64, 2, [0, 1], [200.0, 400.0], [8, 12])


@pytest.fixture(scope="module")
def ring3():
    return local_system("vgg11", 64, 3, [0, 1], [150.0, 300.0], [5, 8])


def assert_complete(r: RingResult, system, U: int) -> None:
    """(c) every image ran as one chain of services covering all units, and came back once to its source."""
    per_item: dict[int, list[dict]] = {}
    for sv in r.services:
        per_item.setdefault(sv["item"], []).append(sv)
    total = sum(system.images)
    assert sorted(per_item) == list(range(total))
    offset = np.concatenate([[0], np.cumsum(system.images)])
    for k, svc in per_item.items():
        svc.sort(key=lambda sv: sv["t0"])
        s = int(np.searchsorted(offset, k, side="right") - 1)
        assert all(sv["source"] == s for sv in svc)
        assert svc[0]["first"] == 0 and svc[-1]["last"] == U - 1
        assert all(a["last"] + 1 == b["first"] and a["t1"] <= b["t0"] for a, b in zip(svc, svc[1:]))
        if svc[0]["local"]:
            assert len(svc) == 1 and svc[0]["worker"] == system.sources[s]
    for s, w in enumerate(system.sources):
        assert sorted(r.returned[w]) == list(range(offset[s], offset[s + 1]))  # once each, at its source
    assert np.isfinite(r.measured_done_s).all()


def test_live_ring_decides_by_the_rule_and_is_exact(ring3):
    graph, system = ring3
    r = run_mdi_ring(graph, system, "ms-mdi", seed=1, timeout_s=240)
    assert r.mode == "live" and r.max_abs_error <= 1e-4 * max(1.0, r.ref_max_abs)  # (a)
    kinds = {(d["kind"], d["choice"] == IDLE) for d in r.decisions}
    assert {("admit", False), ("serve", False)} <= kinds
    assert r.check(BackPressure()) == []  # (b)
    assert_complete(r, system, graph.num_units)  # (c)
    arrive = QueueSim(system, seed=1).arr
    assert (r.measured_done_s >= arrive).all()  # nothing finishes before it arrives
    # the check can fail: a flipped decision, or another policy, is caught
    flipped = [dict(d, choice=1 - d["choice"]) for d in r.decisions if d["kind"] == "admit"][:1]
    assert len(check_decisions(r.layout, BackPressure(), flipped)) == 1
    assert r.check(get_scheduler("ar-mdi"))  # ar-mdi never admits locally; ms-mdi did at least once


def test_live_ring_with_the_learned_admission(small, tmp_path):
    from stable_baselines3 import PPO

    from splitgym.envs.msmdi import MSMDIEnv
    from splitgym.envs.msmdi_scenarios import MDIScenario

    graph, system = small
    env = MSMDIEnv(MDIScenario("t2", model="vgg11", input=64, devices="tx2x2", images=(4, 6)))
    buf = io.BytesIO()
    PPO("MlpPolicy", env, n_steps=32, batch_size=32, seed=0, device="cpu").save(buf)
    write_signed(tmp_path / "policy.zip", buf.getvalue())  # as the training export writes it: loaded only when signed
    r = run_mdi_ring(
        graph, system, "learned", seed=0, timeout_s=240, learned=tmp_path / "policy.zip", loader=LearnedAdmission.load
    )
    assert r.max_abs_error <= 1e-4 * max(1.0, r.ref_max_abs)
    pol = LearnedAdmission.load(tmp_path / "policy.zip", float(np.mean(system.full_s())), sum(system.images))
    assert r.check(pol) == [] and any(d["kind"] == "admit" for d in r.decisions)
    assert_complete(r, system, graph.num_units)
    with pytest.raises(ConfigError, match="learned"):
        run_mdi_ring(
            *local_system("vgg11", 64, 3, [0, 1], [10.0, 10.0], [1, 1]),
            "learned",
            learned=tmp_path / "policy.zip",
            loader=LearnedAdmission.load,
        )


def test_view_mirrors_the_simulator(ring3):
    """A view holding the simulator's lengths decides as the policy does on the simulator."""
    _, system = ring3
    sim = QueueSim(system, seed=0)
    gen = sim.steps(BackPressure(), external=True)
    next(gen)
    layout = RingLayout.from_sim(sim)
    for _ in range(6):
        gen.send([0, 1])
        for n in range(sim.N):
            v = RingView(layout, n)
            for m in range(sim.N):
                s_m = sim.src_of[m]
                v.rows[m] = [
                    len(sim.qlocal[s_m]) if s_m >= 0 else 0,
                    len(sim.reservoir[s_m]) if s_m >= 0 else 0,
                    int(sim.busy[m]),
                    0,
                    *[len(q) for q in sim.qmdi[m]],
                ]
            v.heads = [(q[0], sim.adm[q[0]]) if q else None for q in sim.qmdi[n]]
            for pol in (BackPressure(), get_scheduler("ar-mdi"), Local()):
                assert pol.serve(v, n) == pol.serve(sim, n)
    assert RingLayout.from_json(layout.to_json()) == layout


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["ar-mdi", "local"])
def test_live_ring_other_policies(ring3, policy):
    graph, system = ring3
    r = run_mdi_ring(graph, system, policy, seed=2, timeout_s=240)
    assert r.max_abs_error <= 1e-4 * max(1.0, r.ref_max_abs) and r.check(get_scheduler(policy)) == []
    assert_complete(r, system, graph.num_units)


def test_ring_tasks_form_one_chain_per_image(small):
    graph, system = small
    res, tasks = ring_tasks(system, BackPressure(), seed=0)
    per_item: dict[int, list] = {}
    for lst in tasks:
        for t in lst:
            per_item.setdefault(t.item, []).append(t)
    assert sorted(per_item) == list(range(res.images))
    U = graph.num_units
    for k, ts in per_item.items():
        ts.sort(key=lambda t: t.first)
        assert ts[0].first == 0 and ts[-1].last == U - 1 and ts[-1].dst == -1
        assert all(a.last + 1 == b.first and a.dst == b.worker and b.src == a.worker for a, b in zip(ts, ts[1:]))
        assert ts[0].src == ts[0].home == system.sources[int(res.source[k])]
    # Local: one whole-model service per image, on its source
    _, local = ring_tasks(system, Local(), seed=0)
    assert all(t.first == 0 and t.last == U - 1 and t.worker == t.home for lst in local for t in lst)
    with pytest.raises(ConfigError, match="events"):
        ring_tasks(local_system("vgg11", 64, 3, [0], [10.0], [2], events=[WorkerEvent(1.0, 2, "leave")])[1], Local())
    with pytest.raises(ConfigError, match="mode"):
        run_mdi_ring(graph, system, "ms-mdi", mode="dream")


@pytest.mark.slow
def test_replay_run_is_exact_and_measured(small):
    graph, system = small
    r = run_mdi_ring(graph, system, BackPressure(), seed=0, timeout_s=180, mode="replay")
    assert r.max_abs_error <= 1e-4 * max(1.0, r.ref_max_abs)
    assert np.isfinite(r.measured_done_s).all() and r.measured_done_s.size == 20
    sim_res, _ = ring_tasks(system, BackPressure(), seed=0)
    assert (r.measured_done_s >= sim_res.arrive - 1e-3).all()  # nothing finishes before it arrives
    assert all(c > 0 for c in r.compute_s) and r.measured_total_s > 0
    assert r.to_json()["simulated_total_s"] == pytest.approx(sim_res.makespan_s)
