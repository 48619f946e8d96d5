"""Write the DistrEdge-v1 splits (train / val / test) and their reference latencies.

    python -m splitgym.experiments.make_splits            # writes envs/data/splits/distredge-v1/
    python -m splitgym.experiments.make_splits --family nptp-v1   # or msmdi-v1, hidp-v0 (make_env_splits.py)

Run once per family: the files are frozen (each holds its instances' sha256; a change is a new
family). What each part holds:

* ``train`` -- 24 draws of models {vgg16@224, vgg11@64, resnet18@224} on 2-4 devices of
  {nano, tx2, xavier}, each link 100-300 Mbps (log-uniform);
* ``val`` -- 6 more draws of the same distribution (in distribution);
* ``test`` -- 9 instances, 3 per held-out axis: ``model`` (mobilenet_v2, vgg19, resnet50 on
  train-like clusters), ``cluster`` (5 devices with an Orin NX or a Raspberry Pi 4 among them:
  a size and boards train never has), ``bandwidth`` (links 20-60 Mbps, train's are 100-300).

``references.json``: every classical planner (``VOLUME_PLANNERS``) and ``exact`` (grid search on
the instance's LC-PSS partition, grid 8 or else 4, where it stays under 2 M candidates; null
otherwise) per instance, in ms, on the simulator the env scores with.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.agents.bench_adapters import exact_latency
from splitgym.costmodels.atomic import atomic_write
from splitgym.envs.distredge import DistrEdgeEnv
from splitgym.envs.distributions import DistrEdgeDistribution, make_scenario
from splitgym.envs.scenarios import Scenario
from splitgym.envs.splits import FORMAT, SPLITS_DIR, instances_hash

__all__ = ["build_parts", "references", "main"]

FAMILY = "distredge-v1"
ENV_ID = "splitgym/DistrEdge-v1"
MAX_DEVICES = 5
TRAIN_MODELS = (("vgg16", 224), ("vgg11", 64), ("resnet18", 224))
TRAIN_BOARDS = ("nano", "tx2", "xavier")


def _train_distribution() -> DistrEdgeDistribution:
    return DistrEdgeDistribution("distredge-v1-train", TRAIN_MODELS, TRAIN_BOARDS, (2, 4), (100.0, 300.0), MAX_DEVICES)


def _draws(dist: DistrEdgeDistribution, rng: np.random.Generator, n: int, seen: set[str]) -> list[Scenario]:
    out: list[Scenario] = []
    while len(out) < n:
        sc = dist.sample(rng)
        if sc.name not in seen:
            seen.add(sc.name)
            out.append(sc)
    return out


def _test(rng: np.random.Generator, seen: set[str]) -> list[tuple[Scenario, list[str]]]:
    out: list[tuple[Scenario, list[str]]] = []
    for model, size in (("mobilenet_v2", 224), ("vgg19", 224), ("resnet50", 224)):  # held-out models
        d = DistrEdgeDistribution("m", ((model, size),), TRAIN_BOARDS, (2, 4), (100.0, 300.0), MAX_DEVICES)
        out += [(sc, ["model"]) for sc in _draws(d, rng, 1, seen)]
    for extra in ("orin-nx", "pi4", "orin-nx"):  # held-out clusters: 5 devices, a board train lacks
        model, size = TRAIN_MODELS[len(out) % len(TRAIN_MODELS)]
        boards = [extra, *(TRAIN_BOARDS[int(i)] for i in rng.integers(len(TRAIN_BOARDS), size=MAX_DEVICES - 1))]
        mbps = [float(np.round(np.exp(v))) for v in rng.uniform(np.log(100), np.log(300), MAX_DEVICES)]
        out.append((make_scenario(model, size, boards, mbps, "lcpss", 0.75), ["cluster"]))
    low = DistrEdgeDistribution("bw", TRAIN_MODELS, TRAIN_BOARDS, (2, 4), (20.0, 60.0), MAX_DEVICES)
    out += [(sc, ["bandwidth"]) for sc in _draws(low, rng, 3, seen)]  # held-out bandwidth regime
    return out


def build_parts(seed: int = 18) -> dict[str, list[tuple[Scenario, list[str]]]]:
    """The three parts' instances with what each holds out (seeded: the same files every time)."""
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    train = [(sc, []) for sc in _draws(_train_distribution(), rng, 24, seen)]
    val = [(sc, []) for sc in _draws(_train_distribution(), rng, 6, seen)]
    return {"train": train, "val": val, "test": _test(rng, seen)}


def references(sc: Scenario) -> dict[str, float | None]:
    """Every classical planner's latency (ms) and exact search's where tractable."""
    from splitgym.agents.export import classical_latencies

    env = DistrEdgeEnv(sc)
    out: dict[str, float | None] = {k: v * 1e3 for k, v in classical_latencies(env).items()}
    ex = exact_latency(env)
    out["exact"] = None if ex is None else ex * 1e3
    return out


def _write(part: str, items: list[tuple[Scenario, list[str]]], folder: Path, description: str) -> None:
    instances = [{"scenario": sc.to_dict(), "held_out": tags} for sc, tags in items]
    doc: dict[str, Any] = {
        "format": FORMAT,
        "name": f"{FAMILY}/{part}",
        "env_id": ENV_ID,
        "kind": "distredge",
        "version": 1,
        "max_devices": MAX_DEVICES,
        "description": description,
        "generated_by": "python -m splitgym.experiments.make_splits",
        "sha256": instances_hash(instances),
        "instances": instances,
    }
    atomic_write((folder / f"{part}.json"), json.dumps(doc, indent=1) + "\n")


DESCRIPTIONS = {
    "train": "24 draws: vgg16@224, vgg11@64, resnet18@224 on 2-4 of nano/tx2/xavier, links 100-300 Mbps",
    "val": "6 more draws of train's distribution (in distribution)",
    "test": "9 held out: 3 models (mobilenet_v2, vgg19, resnet50), 3 clusters (5 devices with orin-nx or pi4), "
    "3 bandwidth regimes (links 20-60 Mbps)",
}


def main(argv: list[str] | None = None) -> None:
    from splitgym.experiments.make_env_splits import FAMILY_MODULES, family_module, family_references, write_family

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default=FAMILY, choices=[FAMILY, *FAMILY_MODULES], help="which family to write")
    ap.add_argument("--out", default=None, help="folder to write (default: the package's, envs/data/splits/<family>)")
    ap.add_argument("--no-references", action="store_true", help="skip references.json")
    args = ap.parse_args(argv)
    folder = Path(args.out or SPLITS_DIR / args.family)
    if args.family != FAMILY:  # NPTP-v1, MSMDI-v1, HiDP-v0 (experiments/make_env_splits.py)
        mod = family_module(args.family)
        write_family(mod, folder)
        if not args.no_references:
            family_references(mod, folder)
        return
    folder.mkdir(parents=True, exist_ok=True)
    parts = build_parts()
    for part, items in parts.items():
        _write(part, items, folder, DESCRIPTIONS[part])
    if not args.no_references:
        lat = {}
        for part, items in parts.items():
            for sc, _ in items:
                lat[sc.name] = references(sc)
                print(f"{part:5s} {sc.name}: best {min(v for v in lat[sc.name].values() if v):.2f} ms", file=sys.stderr)
        doc = {"command": "python -m splitgym.experiments.make_splits", "unit": "ms", "latency_ms": lat}
        atomic_write((folder / "references.json"), json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
