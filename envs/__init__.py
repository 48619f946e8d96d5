"""Gymnasium environments of splitgym, registered on import.

Every id is listed in ``ENV_IDS``; each env is built from a named scenario
(``splitgym.envs.list_scenarios()``: one registry for every env, each entry naming the envs it is
for). Bump the ``-vN`` suffix when behaviour changes.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from splitgym.envs.msmdi_scenarios import MDIScenario
from splitgym.envs.scenarios import SCENARIOS, Scenario, ScenarioBase, get_scenario, list_scenarios

__all__ = ["ENV_IDS", "SCENARIOS", "Scenario", "MDIScenario", "ScenarioBase", "get_scenario", "list_scenarios"]

ENV_IDS: list[str] = ["splitgym/DistrEdge-v0", "splitgym/MSMDI-v0", "splitgym/NPTP-v0"]

if "splitgym/DistrEdge-v0" not in registry:
    register(id="splitgym/DistrEdge-v0", entry_point="splitgym.envs.distredge:DistrEdgeEnv")
if "splitgym/MSMDI-v0" not in registry:
    register(id="splitgym/MSMDI-v0", entry_point="splitgym.envs.msmdi:MSMDIEnv")
if "splitgym/NPTP-v0" not in registry:
    register(id="splitgym/NPTP-v0", entry_point="splitgym.envs.nptp:NPTPEnv")
if "splitgym/HiDP-v0" not in registry:
    register(id="splitgym/HiDP-v0", entry_point="splitgym.envs.hidp_env:HiDPEnv")
