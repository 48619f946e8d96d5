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

ENV_IDS: list[str] = ["splitgym/DistrEdge-v0", "splitgym/MSMDI-v0", "splitgym/MSMDI-v1", "splitgym/NPTP-v0"]

if "splitgym/DistrEdge-v0" not in registry:
    register(id="splitgym/DistrEdge-v0", entry_point="splitgym.envs.distredge:DistrEdgeEnv")
if "splitgym/MSMDI-v0" not in registry:
    register(id="splitgym/MSMDI-v0", entry_point="splitgym.envs.msmdi:MSMDIEnv")
if "splitgym/MSMDI-v1" not in registry:
    register(id="splitgym/MSMDI-v1", entry_point="splitgym.envs.msmdi_v1:MSMDIEnvV1")
if "splitgym/NPTP-v0" not in registry:
    register(id="splitgym/NPTP-v0", entry_point="splitgym.envs.nptp:NPTPEnv")
# NPTP-v1: drawn instances (its own kwargs, no scenario; tests/test_nptp_v1.py checks it)
if "splitgym/NPTP-v1" not in registry:
    register(id="splitgym/NPTP-v1", entry_point="splitgym.envs.nptp_v1:NPTPv1Env")

# DistrEdge-v1: instances drawn per reset (distributions, named splits), padded with a device mask
ENV_IDS.append("splitgym/DistrEdge-v1")
if "splitgym/DistrEdge-v1" not in registry:
    register(id="splitgym/DistrEdge-v1", entry_point="splitgym.envs.distredge_v1:DistrEdgeV1Env")

# HiDP-v0: a request stream over nodes whose availability changes
ENV_IDS.append("splitgym/HiDP-v0")
if "splitgym/HiDP-v0" not in registry:
    register(id="splitgym/HiDP-v0", entry_point="splitgym.envs.hidp_env:HiDPEnv")
