"""MS-MDI's open choices as named options (tie-breaks, idling) and the mechanism/regime experiments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.stages.queue_policies import IDLE, LOCAL, RULE_OPTIONS, BackPressure, get_scheduler
from splitgym.costmodels.stages.queue_sim import QueueSim
from splitgym.envs.msmdi_scenarios import get_mdi_scenario
from splitgym.experiments import bench_msmdi_env, msmdi_mechanisms, msmdi_regimes
from splitgym.experiments.results_csv import read_csv

SMALL = get_mdi_scenario("ms-mdi-3-small")


def _sim() -> QueueSim:
    """3 workers, chains by FLOPs: 0 -> 1 -> 2 for source 0 (worker 2 is a helper)."""
    return QueueSim(SMALL.system(images=(30, 60), weight="flops"), seed=0)


def test_serve_tie_and_admit_tie_decide_equal_terms():
    """Source worker 0 with 2 local and 2 own MDI items (its successor's queue empty): Eq. 2's
    terms are equal, 2 and 2 - 0; the tie rule picks the side."""
    sim = _sim()
    sim.qlocal[0].extend([0, 1])
    sim.qmdi[0][0].extend([2, 3])
    assert BackPressure().serve(sim, 0) == LOCAL
    assert BackPressure(serve_tie="mdi").serve(sim, 0) == 0
    assert BackPressure().admit(sim, 0) is True and BackPressure(admit_tie="mdi").admit(sim, 0) is False


def test_work_conserving_serves_what_back_pressure_leaves_idle():
    """Worker 1 (source 1, empty local queue) holds one item of source 0 whose next worker
    holds two: no pressure (1 - 2 < 0), back-pressure idles, work-conserving serves it."""
    sim = _sim()
    assert sim.succ[0][1] == 2
    sim.qmdi[1][0].append(0)
    sim.qmdi[2][0].extend([1, 2])
    assert BackPressure().serve(sim, 1) == IDLE
    assert BackPressure(idle="work").serve(sim, 1) == 0


@pytest.mark.slow
def test_every_combination_runs_and_the_options_move_the_result():
    system = get_mdi_scenario("ms-mdi-3").system(images=(600, 1200))
    totals = {}
    for combo in [dict(zip(RULE_OPTIONS, c)) for c in [("local", "local", "positive"), ("mdi", "mdi", "work")]]:
        res = QueueSim(system, seed=0).run(get_scheduler("ms-mdi", **combo))
        assert res.images == 1800 and not (res.done != res.done).any()  # every image finished
        totals[tuple(combo.values())] = res.makespan_s
    assert len(set(totals.values())) == 2


def test_rule_options_are_checked_in_one_line():
    with pytest.raises(ConfigError, match="idle: must be one of positive, work, got 'lazy'"):
        get_scheduler("ms-mdi", idle="lazy")
    with pytest.raises(ConfigError, match="admit_tie: a rule option of ms-mdi, not of 'ar-mdi'"):
        get_scheduler("ar-mdi", admit_tie="mdi")
    with pytest.raises(ConfigError, match="speed: not a rule option"):
        get_scheduler("ms-mdi", speed="fast")


def test_allocation_by_params_keeps_compute_on_the_source():
    rows = {(r["workers"], r["weight"]): r for r in msmdi_mechanisms.allocation_rows(["ms-mdi-2", "ms-mdi-4"])}
    for n in (2, 4):
        assert rows[(n, "params")]["source_compute_share"] > 0.75 > rows[(n, "flops")]["source_compute_share"]
    assert rows[(4, "params")]["empty_stages"] == 1 and rows[(4, "flops")]["empty_stages"] == 0


def test_served_per_queue_counts_every_service_at_the_sources():
    rows, last = msmdi_mechanisms.served_per_queue("ms-mdi-3-small", seed=0, bins=10)
    assert last > 0 and {r["queue"] for r in rows} == set(msmdi_mechanisms.QUEUES)
    for w in (0, 1):
        for q in msmdi_mechanisms.QUEUES:
            served = [r["served"] for r in rows if r["worker"] == w and r["queue"] == q]
            assert served == sorted(served)  # cumulative
    local_end = sum(r["served"] for r in rows if r["queue"] == "local" and r["time_s"] == rows[-1]["time_s"])
    sim = QueueSim(SMALL.system(), seed=0)
    res = sim.run(get_scheduler("ms-mdi"))
    assert local_end == int((res.path == 0).sum())  # every local image was served once, at its source


def test_regime_rows_flag_the_papers_order_from_the_totals():
    rows = msmdi_regimes.regime_rows([2], seeds=1, arrivals_s=20.0)
    assert len(rows) == 2 * len(msmdi_regimes.REGIMES)
    for r in rows:
        holds = r["ms-mdi_s"] < r["ar-mdi_s"] < r["local_s"]
        assert r["paper_order_holds"] is holds and r["order"].count("<") == 3


@pytest.mark.slow
def test_dynamic_rows_restart_items_when_a_helper_leaves(tmp_path: Path):
    rows = {r["case"]: r for r in msmdi_regimes.dynamic_rows(seeds=1)}
    static, leave = rows["static"], rows["helper leaves at 200 s"]
    assert static["ms-mdi_restarts"] == 0 and static["local_s"] == leave["local_s"]
    assert leave["ms-mdi-mw_restarts"] > 0


def test_bench_msmdi_env_reports_both_checks():
    out = bench_msmdi_env.main(["--episodes", "1", "--repeats", "1", "--calls", "200", "--out", ""])
    assert set(out["check_us"]) == {"old", "new"} and all(v > 0 for v in out["steps_per_s"].values())


def test_bench_msmdi_env_csv_holds_the_json_figures_stamped(tmp_path: Path):
    bench_msmdi_env.main(["--episodes", "1", "--repeats", "1", "--calls", "200", "--out", str(tmp_path)])
    out = json.loads((tmp_path / "bench_msmdi_env.json").read_text())
    rows = {r["variant"]: r for r in read_csv(tmp_path / "bench_msmdi_env.csv")}
    assert set(rows) == {"old", "new"}
    for k, r in rows.items():
        assert r["check_us"] == out["check_us"][k] and r["steps_per_s"] == out["steps_per_s"][k]
        assert r["check_share_of_step"] == out["check_share_of_step"][k] and r["repeats"] == 1
        assert r["load_before"] == round(out["load"][0][0], 2) and r["load_after"] == round(out["load"][1][0], 2)
        assert r["commit"] != "unknown" and "pytest" in r["command"]
