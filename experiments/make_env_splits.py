"""Write the NPTP-v1, MSMDI-v1 and HiDP-v0 split families and their references
(``python -m splitgym.experiments.make_splits --family nptp-v1|msmdi-v1|hidp-v0``).

A family module (``experiments/splits_<env>.py``) gives the parts' instances; this writes them in
the split format (:mod:`splitgym.envs.splits`) and then ``references.json``: every planner the
env's benchmark adapter knows (``agents/bench_adapters_<env>.py``), per instance, in ms of the
adapter's latency (the env's own objective), ``null`` where a planner refuses the instance
(``nptp-exact`` past its candidate budget). The references read the written files back through
the env (``split=``), so they are computed on exactly what the benchmark plays.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.errors import ConfigError
from splitgym.envs.splits import FORMAT, SPLITS_DIR, get_split, instances_hash

__all__ = ["FAMILY_MODULES", "family_module", "write_family", "family_references"]

FAMILY_MODULES = {"nptp-v1": "splits_nptp", "msmdi-v1": "splits_msmdi", "hidp-v0": "splits_hidp"}


def family_module(family: str) -> ModuleType:
    import importlib

    if family not in FAMILY_MODULES:
        raise ConfigError(f"family: unknown {family!r} (known: distredge-v1, {', '.join(FAMILY_MODULES)})")
    return importlib.import_module(f"splitgym.experiments.{FAMILY_MODULES[family]}")


def write_family(mod: ModuleType, folder: Path) -> None:
    """The family's train / val / test files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for part, items in mod.build_parts().items():
        instances = [{"scenario": m, "held_out": tags} for m, tags in items]
        doc: dict[str, Any] = {
            "format": FORMAT,
            "name": f"{mod.FAMILY}/{part}",
            "env_id": mod.ENV_ID,
            "kind": mod.KIND,
            "version": 1,
            "max_devices": mod.MAX_DEVICES,
            "description": mod.DESCRIPTIONS[part],
            "generated_by": f"python -m splitgym.experiments.make_splits --family {mod.FAMILY}",
            "sha256": instances_hash(instances),
            "instances": instances,
        }
        atomic_write(folder / f"{part}.json", json.dumps(doc, indent=1) + "\n")


def _planners(adapter: Any) -> list[str]:
    from splitgym.agents.bench_adapters_nptp import NPTP_PLANNERS
    from splitgym.costmodels.stages.queue_policies import SCHEDULERS

    if hasattr(adapter, "env") and type(adapter).__name__ == "HiDPAdapter":
        from splitgym.agents.bench_adapters_hidp import hidp_planners

        return hidp_planners(adapter.env)
    return list(NPTP_PLANNERS) if type(adapter).__name__ == "NPTPAdapter" else list(SCHEDULERS)


def _instance_row(name: str, j: int) -> dict[str, float | None]:
    """Every planner's latency (ms) on instance ``j`` of split ``name`` (``None``: refused)."""
    from splitgym.agents.bench_adapters import adapter_for
    from splitgym.agents.benchmark import subset

    adapter = adapter_for(subset(get_split(name), [j]))
    row: dict[str, float | None] = {}
    for p in _planners(adapter):
        try:
            row[p] = adapter.planner_latency(0, p) * 1e3
        except ConfigError:
            row[p] = None
    return row


def family_references(mod: ModuleType, folder: Path) -> None:
    """``references.json``: every planner's latency (ms) per instance of every part. One process
    per instance (the tile planners' and cost models' caches grow to gigabytes over a part)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    if folder.resolve() != (SPLITS_DIR / mod.FAMILY).resolve():
        raise ConfigError(f"out: references read the split from the package; use --no-references with --out {folder}")
    lat: dict[str, dict[str, float | None]] = {}
    with ProcessPoolExecutor(1, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        for part in ("train", "val", "test"):
            split = get_split(f"{mod.FAMILY}/{part}")
            for j, inst in enumerate(split.instances):
                lat[inst.name] = row = pool.submit(_instance_row, split.name, j).result()
                best = min(v for v in row.values() if v is not None)
                print(f"{part:5s} {inst.name}: best {best:.2f} ms", file=sys.stderr, flush=True)
    cmd = f"python -m splitgym.experiments.make_splits --family {mod.FAMILY}"
    doc = {"command": cmd, "unit": "ms", "latency_ms": lat}
    atomic_write(folder / "references.json", json.dumps(doc, indent=1) + "\n")
