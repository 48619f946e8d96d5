"""Classical planners behind one interface: ``planner(graph, cluster, **options) -> Plan``.

``PLANNERS`` maps the names ``splitgym plan METHOD`` accepts to the functions; each lives in its
own module and reads top to bottom (its docstring states the method and every choice made where
the paper is silent). The DistrEdge baselines (DE Section V-B) plan with their own, simpler models
(``costmodels/volumes/linear_model.py``); ``offload`` and ``exact`` ask the simulator. Options are keyword arguments
(``partition``, ``grid``, ``max_volumes``, ``profiles``, ...); :func:`run_planner` rejects one a
planner does not take with one ``ConfigError`` line.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

from splitgym.agents.planners.neurons.hyps import plan_hyps
from splitgym.agents.planners.nodes.disnet import plan_disnet
from splitgym.agents.planners.nodes.distredge_hidp import plan_aofl_hidp
from splitgym.agents.planners.nodes.hidp import plan_hidp
from splitgym.agents.planners.nodes.modnn_hidp import plan_modnn_hidp
from splitgym.agents.planners.nodes.omniboost import plan_omniboost
from splitgym.agents.planners.stages.ar_mdi import plan_ar_mdi
from splitgym.agents.planners.tiles.coedge_lp import plan_coedge_lp
from splitgym.agents.planners.tiles.coedge_strips import plan_coedge_strips
from splitgym.agents.planners.tiles.grid import plan_grid
from splitgym.agents.planners.tiles.nptp_exact import plan_nptp_exact
from splitgym.agents.planners.tiles.nptp_mpa import plan_nptp_mpa
from splitgym.agents.planners.volumes.aofl import plan_aofl
from splitgym.agents.planners.volumes.coedge import plan_coedge
from splitgym.agents.planners.volumes.deeperthings import plan_deeperthings
from splitgym.agents.planners.volumes.deepthings import plan_deepthings
from splitgym.agents.planners.volumes.equal import plan_equal
from splitgym.agents.planners.volumes.exact import plan_exact
from splitgym.agents.planners.volumes.lcpss_pilot import plan_lcpss_pilot
from splitgym.agents.planners.volumes.mednn import plan_mednn
from splitgym.agents.planners.volumes.modnn import plan_modnn
from splitgym.agents.planners.volumes.offload import plan_offload
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan

__all__ = ["PLANNERS", "VOLUME_PLANNERS", "get_planner", "planner_options", "run_planner"]

Planner = Callable[..., Plan]

PLANNERS: dict[str, Planner] = {
    "equal": plan_equal,
    "coedge": plan_coedge,
    "modnn": plan_modnn,
    "mednn": plan_mednn,
    "deepthings": plan_deepthings,
    "deeperthings": plan_deeperthings,
    "aofl": plan_aofl,
    "offload": plan_offload,
    "exact": plan_exact,
    "lcpss-pilot": plan_lcpss_pilot,
    "hyps": plan_hyps,
    "ar-mdi": plan_ar_mdi,
    # NPTP: tile plans (costmodels/tiles/tile_cost.py)
    "nptp-mpa": plan_nptp_mpa,
    "coedge-strips": plan_coedge_strips,
    "coedge-lp": plan_coedge_lp,
    "grid": plan_grid,
    "nptp-exact": plan_nptp_exact,
    # HiDP: node rows, modes and processor shares (costmodels/nodes/hidp_cost.py)
    "hidp": plan_hidp,
    "disnet": plan_disnet,
    "modnn-hidp": plan_modnn_hidp,
    "omniboost": plan_omniboost,
    "aofl-hidp": plan_aofl_hidp,
}

#: The methods DistrEdge compares (DE Section V-B): each writes a volume plan for any cluster, so
#: training summaries, benchmarks and the predicted-vs-measured report run all of them. ``exact``
#: is left out (exhaustive: small cases only); other papers' planners write other plan kinds.
VOLUME_PLANNERS: tuple[str, ...] = (
    "equal",
    "coedge",
    "modnn",
    "mednn",
    "deepthings",
    "deeperthings",
    "aofl",
    "offload",
)


def get_planner(name: str) -> Planner:
    try:
        return PLANNERS[name]
    except KeyError:
        raise ConfigError(f"method: unknown planner {name!r} (known: {', '.join(sorted(PLANNERS))})") from None


def planner_options(name: str) -> list[str]:
    """The keyword options a planner takes (everything after ``graph, cluster``)."""
    params = list(inspect.signature(get_planner(name)).parameters.values())[2:]
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


_KINDS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "Mapping": (Mapping,),
    "None": (type(None),),
}


def _coerce(planner: str, key: str, value: object, annotation: str) -> object:
    """Check an option against the types its annotation names: a number given where text is
    expected (``--set partition=5``) becomes text; anything else that does not fit is one line."""
    names = [part.split("[")[0].strip() for part in annotation.split(" | ")]
    if names == ["bool"]:  # the CLI's --set gives text: true/false (the tile planners' scatter)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(f"{key}: planner {planner!r} expects true or false, got {value!r}")
    allowed = tuple(t for word in names for t in _KINDS.get(word, ()))
    if not allowed or (isinstance(value, allowed) and not isinstance(value, bool)):
        return value
    if str in allowed and isinstance(value, (int, float)):
        return str(value)
    raise ConfigError(f"{key}: planner {planner!r} expects {annotation}, got {value!r}")


def run_planner(name: str, graph: ModelGraph, cluster: Cluster, **options: object) -> Plan:
    fn = get_planner(name)
    takes = planner_options(name)
    unknown = [k for k in options if k not in takes]
    if unknown:
        raise ConfigError(
            f"options: planner {name!r} takes no option {unknown[0]!r} (it takes: {', '.join(takes) or 'none'})"
        )
    params = inspect.signature(fn).parameters
    checked = {k: _coerce(name, k, v, str(params[k].annotation)) for k, v in options.items()}
    return fn(graph, cluster, **checked)
