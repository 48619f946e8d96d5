"""Every LC-PSS setting from config takes effect or is refused in one line: |R_s| and the seed of
LC-PSS (env.lcpss.*), the pilot's own sampling (env.pilot.*), and the same knobs of the planner
``lcpss-pilot`` (``splitgym plan lcpss-pilot --set lcpss_samples=50``)."""

from __future__ import annotations

from typing import Any

import pytest
from hydra import compose, initialize_config_module

from splitgym.agents.planners import run_planner
from splitgym.agents.tasks.distredge_task import scenario_from_config
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError, EnvArgumentError, SplitgymError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.volumes import lcpss, partition_pilot
from splitgym.envs.scenarios import Scenario


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Records the samples and seed every LCPSS and every pilot pricer is built with."""
    seen: dict[str, list[Any]] = {"lcpss": [], "pilot": []}
    lc_init, pr_init = lcpss.LCPSS.__post_init__, partition_pilot._Pricer.__init__

    def lc(self: lcpss.LCPSS) -> None:
        seen["lcpss"].append((self.samples, self.seed))
        lc_init(self)

    def pr(
        self: Any, graph: Any, cluster: Any, priors: Any, samples: int, spread: float, seed: int, *rest: Any
    ) -> None:
        seen["pilot"].append((samples, spread, seed))
        pr_init(self, graph, cluster, priors, samples, spread, seed, *rest)

    monkeypatch.setattr(lcpss.LCPSS, "__post_init__", lc)
    monkeypatch.setattr(partition_pilot._Pricer, "__init__", pr)
    return seen


@pytest.fixture(scope="module")
def small() -> ModelGraph:
    return ModelGraph.from_torchvision("vgg11", 64, weights=False)


def _cfg(*overrides: str):
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        return compose(config_name="train", overrides=["model=vgg11", "model.input=64", *overrides])


def test_hydra_lcpss_samples_and_seed_reach_lcpss(spy, small):
    scenario_from_config(_cfg()).volumes(small, n_devices=4)
    scenario_from_config(_cfg("env.lcpss.samples=7", "env.lcpss.seed=3")).volumes(small, n_devices=4)
    assert spy["lcpss"] == [(100, 0), (7, 3)]


def test_lcpss_samples_are_the_number_of_random_decisions(small):
    assert lcpss.LCPSS(small, 4, samples=7).fractions.shape == (7, 5)


def test_hydra_pilot_settings_reach_the_pilot(spy, small):
    sc = scenario_from_config(
        _cfg("env.partition=lcpss-pilot", "env.lcpss.samples=9", "env.pilot.samples=5", "env.pilot.spread=0.25")
    )
    sc.pilot(small)
    assert spy["pilot"] == [(5, 0.25, 0)]
    assert set(spy["lcpss"]) == {(9, 0)}  # one LC-PSS per a of the sweep, each with |R_s| = 9


@pytest.mark.parametrize(
    ("parts", "line"),
    [
        ({"partition": "layers", "lcpss_samples": 50}, "lcpss_samples: 50 is not used by partition 'layers'"),
        ({"partition": "lcpss", "pilot_seed": 2}, "pilot_seed: 2 is not used by partition 'lcpss'"),
        ({"partition": "lcpss-pilot", "alpha": 0.5}, "alpha: 0.5 is not used by partition 'lcpss-pilot'"),
        ({"lcpss_samples": 0}, "lcpss_samples: expected an integer >= 1, got 0"),
        ({"partition": "lcpss-pilot", "pilot_spread": -1.0}, "pilot_spread: expected a number > 0, got -1.0"),
    ],
)
def test_unused_or_bad_settings_are_refused_in_one_line(parts: dict[str, Any], line: str):
    with pytest.raises(EnvArgumentError) as info:
        Scenario("x", **parts)
    assert str(info.value).startswith(line) and "\n" not in str(info.value)


def test_unknown_hydra_setting_is_one_line():
    with pytest.raises(SplitgymError, match=r"^env\.lcpss\.samplez: unknown setting \(known: samples, seed\)$"):
        scenario_from_config(_cfg("+env.lcpss.samplez=3"))


def test_planner_knobs_reach_lcpss_and_the_pilot(spy, small):
    cluster = Cluster.from_config("DB", 300.0)
    opts = {"alphas": "0.75", "lcpss_samples": 11, "lcpss_seed": 2, "samples": 6, "spread": 0.3, "seed": 1}
    plan = run_planner("lcpss-pilot", small, cluster, **opts)
    assert spy["lcpss"] == [(11, 2)] and spy["pilot"] == [(6, 0.3, 1)]
    assert plan.meta["lcpss_samples"] == 11 and plan.meta["alpha"] == 0.75
    assert plan.volumes[-1].rows[-1] == small.units[plan.volumes[-1].last].height


@pytest.mark.parametrize(
    ("opts", "line"),
    [
        ({"lcpss_samples": 0}, "lcpss_samples: must be an integer >= 1, got 0"),
        ({"alphas": "0.5,x"}, "alphas: expected numbers in [0, 1] separated by commas"),
        ({"search": 2}, "search: must be 0 or 1, got 2"),
        ({"samplez": 3}, "options: planner 'lcpss-pilot' takes no option 'samplez'"),
    ],
)
def test_planner_refuses_bad_knobs_in_one_line(small, opts: dict[str, Any], line: str):
    with pytest.raises(ConfigError) as info:
        run_planner("lcpss-pilot", small, Cluster.from_config("DB", 300.0), **opts)
    assert str(info.value).startswith(line) and "\n" not in str(info.value)
