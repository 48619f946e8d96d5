"""LC-PSS as a planner: DistrEdge's partition search (DE Alg. 1) and the partition pilot's best
sampled split decision on it, so ``splitgym plan lcpss-pilot`` writes the plan DistrEdge-v0's
training starts from (``env.partition=lcpss-pilot``), and every LC-PSS setting is a ``--set`` knob.

* ``alphas``: the LC-PSS a values tried, comma-separated (``--set alphas=0.75`` is LC-PSS alone
  at the paper's a; the default sweeps 0, 0.25, ..., 1 and keeps the fastest partition);
* ``lcpss_samples`` (|R_s|, DE L246: 100) and ``lcpss_seed``: LC-PSS's random split decisions;
* ``samples``, ``spread``, ``seed``: the share decisions the pilot prices on each candidate
  partition with the volume simulator (the best becomes the plan's split);
* ``search``: 1 adds AOFL's linear-model partition as a seed, per-volume priors and up to 20
  boundary moves (``env.partition=pilot-search``).
"""

from __future__ import annotations

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.volumes.partition_pilot import ALPHAS, SEARCH, pilot_partition
from splitgym.costmodels.volumes.partitions import starts_of
from splitgym.costmodels.volumes.share_actions import share_cuts
from splitgym.costmodels.volumes.volume_simulator import Simulator

__all__ = ["plan_lcpss_pilot", "parse_alphas"]


def parse_alphas(text: str) -> tuple[float, ...]:
    """``"0,0.5,1"`` -> (0.0, 0.5, 1.0); anything that is not numbers in [0, 1] is one line."""
    try:
        values = tuple(float(x) for x in str(text).split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"alphas: expected numbers in [0, 1] separated by commas, got {text!r}") from None
    if not values or any(not 0.0 <= a <= 1.0 for a in values):
        raise ConfigError(f"alphas: expected numbers in [0, 1] separated by commas, got {text!r}")
    return values


def plan_lcpss_pilot(
    graph: ModelGraph,
    cluster: Cluster,
    alphas: str = ",".join(f"{a:g}" for a in ALPHAS),
    lcpss_samples: int = 100,
    lcpss_seed: int = 0,
    samples: int = 256,
    spread: float = 0.5,
    seed: int = 0,
    search: int = 0,
) -> Plan:
    for key, value, low in (
        ("lcpss_samples", lcpss_samples, 1),
        ("samples", samples, 1),
        ("lcpss_seed", lcpss_seed, 0),
        ("seed", seed, 0),
    ):
        if value < low:
            raise ConfigError(f"{key}: must be an integer >= {low}, got {value}")
    if spread <= 0:
        raise ConfigError(f"spread: must be > 0, got {spread}")
    if search not in (0, 1):
        raise ConfigError(f"search: must be 0 or 1, got {search}")
    pilot = pilot_partition(
        graph,
        cluster,
        alphas=parse_alphas(alphas),
        samples=samples,
        spread=spread,
        seed=seed,
        lcpss_samples=lcpss_samples,
        lcpss_seed=lcpss_seed,
        **(SEARCH if search else {}),
    )
    heights = [graph.units[last].height for _, last in pilot.partition]
    cuts = share_cuts(np.zeros((1, cluster.size)), pilot.centre, heights)[0]
    simulated = float(Simulator(graph, cluster).score(pilot.partition, cuts))
    return Plan.from_volumes(
        "lcpss-pilot",
        graph,
        cluster,
        pilot.partition,
        cuts,
        meta={
            "partition": ",".join(map(str, starts_of(pilot.partition))),
            "alpha": pilot.alpha,
            "source": pilot.source,
            "alphas": alphas,
            "lcpss_samples": lcpss_samples,
            "lcpss_seed": lcpss_seed,
            "samples": samples,
            "spread": spread,
            "seed": seed,
            "search": search,
            "pilot_latency_s": pilot.latency,
            "simulated_latency_s": simulated,
        },
    )
