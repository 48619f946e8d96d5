"""The one scenario registry: DistrEdge/NPTP's and MS-MDI's scenarios in one lookup and one list."""

from __future__ import annotations

import json

import pytest

from splitgym.costmodels.errors import ConfigError
from splitgym.envs import (
    SCENARIOS,
    MDIScenario,
    Scenario,
    ScenarioBase,
    get_scenario,
    list_scenarios,
)
from splitgym.envs.distredge import DistrEdgeEnv
from splitgym.envs.msmdi_scenarios import MDI_SCENARIOS, get_mdi_scenario, list_mdi_scenarios
from splitgym.envs.scenario_registry import register_scenarios
from splitgym.experiments.cli import main

DISTREDGE = [
    "vgg16-DA-50",
    "vgg16-DB-300",
    "vgg16-NA-nano",
    "vgg16-LD",
    "vgg16-dynamic-nano",
    "vgg16-local4",
    "vgg11-DB-300-small",
]
MSMDI = ["ms-mdi-2", "ms-mdi-3", "ms-mdi-4", "ms-mdi-5", "ms-mdi-3-small", "ms-mdi-3-dynamic"]


def test_one_list_holds_every_kind_and_finds_each_by_name():
    names = list_scenarios()
    assert set(DISTREDGE + MSMDI) <= set(names) and names == sorted(names) == sorted(SCENARIOS)
    assert len(names) == len(set(names)) == len(list_scenarios(Scenario)) + len(list_scenarios(MDIScenario))
    for name in names:
        sc = get_scenario(name)
        assert isinstance(sc, ScenarioBase) and sc.name == name and sc.id == f"{name}@v1"
        assert sc.ENV_IDS and sc.KINDS
        assert get_scenario(sc) is sc
    for name in DISTREDGE:
        sc = get_scenario(name, Scenario)
        assert sc.ENV_IDS == ("splitgym/DistrEdge-v0", "splitgym/NPTP-v0") and sc.KINDS == ("volumes", "tiles")
    for name in MSMDI:
        sc = get_scenario(name, MDIScenario)
        assert sc.ENV_IDS == ("splitgym/MSMDI-v0",) and sc.KINDS == ("stages",)
        assert get_mdi_scenario(name) is sc is MDI_SCENARIOS[name]
    assert list_mdi_scenarios() == sorted(MSMDI) == sorted(MDI_SCENARIOS)


def test_an_unknown_name_is_one_error_line_listing_the_known_ones():
    with pytest.raises(ConfigError) as exc:
        get_scenario("nope")
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("scenario: unknown scenario 'nope' (known: ")
    assert all(n in msg for n in DISTREDGE + MSMDI)
    with pytest.raises(ConfigError, match=r"unknown scenario 'nope' \(known: ms-mdi-2, ms-mdi-3,"):
        get_mdi_scenario("nope")


def test_a_name_of_another_kind_says_which_envs_it_is_for():
    with pytest.raises(ConfigError, match=r"'ms-mdi-3' is for splitgym/MSMDI-v0, not splitgym/DistrEdge-v0"):
        get_scenario("ms-mdi-3", Scenario)
    with pytest.raises(ConfigError, match=r"'vgg16-DB-300' is for splitgym/DistrEdge-v0, splitgym/NPTP-v0, not"):
        get_mdi_scenario("vgg16-DB-300")
    with pytest.raises(ConfigError, match="MSMDI-v0"):
        DistrEdgeEnv("ms-mdi-3")


def test_names_are_unique_across_kinds():
    register_scenarios(get_scenario("ms-mdi-3"))  # the same entry again: nothing changes
    with pytest.raises(ConfigError, match=r"name 'ms-mdi-3' is already registered \(for splitgym/MSMDI-v0\)"):
        register_scenarios(Scenario("ms-mdi-3"))
    assert isinstance(get_scenario("ms-mdi-3"), MDIScenario)


def test_both_kinds_share_the_cluster_and_dict_of_the_base():
    de, mdi = get_scenario("vgg16-DB-300", Scenario), get_scenario("ms-mdi-3", MDIScenario)
    assert de.cluster().size == 4 and mdi.cluster().size == 3
    assert list(de.to_dict())[-1] == "version" == list(mdi.to_dict())[-1]
    assert mdi.to_dict()["images"] == (10_000, 30_000) and "partition" in de.to_dict()


def test_cli_lists_every_scenario_with_its_envs(capsys: pytest.CaptureFixture[str]):
    assert main(["list", "scenarios", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert sorted(rows) == list_scenarios()
    assert rows["ms-mdi-3"]["envs"] == ["splitgym/MSMDI-v0"] and rows["ms-mdi-3"]["kinds"] == ["stages"]
    assert rows["vgg16-DB-300"]["envs"] == ["splitgym/DistrEdge-v0", "splitgym/NPTP-v0"]
    assert main(["list", "scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0]: line for line in lines[2:]}
    assert sorted(listed) == list_scenarios() and "MSMDI-v0" in listed["ms-mdi-5"]
