"""The real MS-MDI ring run: decisions replayed over torch.distributed, outputs exact, times measured."""

from __future__ import annotations

import numpy as np
import pytest

from splitgym.agents.schedulers import BackPressure, Local
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.queueing import WorkerEvent
from splitgym.executors.mdi_ring import local_system, ring_tasks, run_mdi_ring


@pytest.fixture(scope="module")
def small():
    return local_system("vgg11", 64, 2, [0, 1], [200.0, 400.0], [8, 12])


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


def test_real_run_is_exact_and_measured(small):
    graph, system = small
    r = run_mdi_ring(graph, system, BackPressure(), seed=0, timeout_s=180)
    assert r.max_abs_error <= 1e-4 * max(1.0, r.ref_max_abs)
    assert np.isfinite(r.measured_done_s).all() and r.measured_done_s.size == 20
    sim_res, _ = ring_tasks(system, BackPressure(), seed=0)
    assert (r.measured_done_s >= sim_res.arrive - 1e-3).all()  # nothing finishes before it arrives
    assert all(c > 0 for c in r.compute_s) and r.measured_total_s > 0
    assert r.to_json()["simulated_total_s"] == pytest.approx(sim_res.makespan_s)
