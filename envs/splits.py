"""Named, versioned, frozen splits of instances (train / val / test), as Procgen's levels and
CompilerGym's datasets: a result quoted on ``distredge-v1/test`` means the same instances for everyone.

A split is a small JSON file shipped in the package, ``envs/data/splits/<family>/<part>.json``
(``distredge-v1/train``): its ``version``, the ``env_id`` it is for, its ``kind`` (how an instance
decodes), ``max_devices`` (the padding every instance fits), the instance list (each with what it
holds out: ``model``, ``cluster``, ``bandwidth``) and ``sha256``, the hash of that list. Loading
checks the hash, so an edited file is refused rather than quietly changing a benchmark: a changed
split is a new family (``distredge-v2``). ``references.json`` beside the parts holds every
classical planner's latency per instance (written by :mod:`splitgym.experiments.make_splits`).

Other envs plug in by registering a decoder for their kind (:func:`register_kind`) and writing
their files under a family of their own; ``splitgym list splits`` lists them all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitgym.costmodels.errors import ConfigError
from splitgym.envs.scenarios import Scenario

__all__ = ["Split", "SPLITS_DIR", "register_kind", "list_splits", "get_split", "load_references", "instances_hash"]

SPLITS_DIR = Path(__file__).parent / "data" / "splits"
FORMAT = 1

#: per instance kind, how one instance's ``scenario`` mapping becomes the object its env builds from
KINDS: dict[str, Callable[[Mapping[str, Any]], Any]] = {}


def register_kind(kind: str, decode: Callable[[Mapping[str, Any]], Any]) -> None:
    KINDS[kind] = decode


def _distredge(d: Mapping[str, Any]) -> Scenario:
    return Scenario(**dict(d))


register_kind("distredge", _distredge)


@dataclass(frozen=True)
class Split:
    name: str  # family/part, e.g. distredge-v1/test
    env_id: str
    kind: str
    version: int
    max_devices: int
    description: str
    instances: tuple[Any, ...]  # decoded (a Scenario for kind "distredge")
    held_out: tuple[tuple[str, ...], ...]  # per instance: what it holds out of the train split

    def summary(self) -> dict[str, Any]:
        """The row ``splitgym list splits`` shows."""
        counts: dict[str, int] = {}
        for tags in self.held_out:
            for t in tags:
                counts[t] = counts.get(t, 0) + 1
        return {
            "split": self.name,
            "env": self.env_id,
            "version": self.version,
            "instances": len(self.instances),
            "max_devices": self.max_devices,
            "held_out": ",".join(f"{k}:{v}" for k, v in sorted(counts.items())) or "-",
        }


def instances_hash(instances: list[dict[str, Any]]) -> str:
    """The sha256 of an instance list (canonical JSON): what freezes a split."""
    return hashlib.sha256(json.dumps(instances, sort_keys=True).encode()).hexdigest()


def list_splits() -> list[str]:
    """Every shipped split, ``family/part``, sorted."""
    return sorted(f"{p.parent.name}/{p.stem}" for p in SPLITS_DIR.glob("*/*.json") if p.stem != "references")


def _path(name: str) -> Path:
    family, _, part = name.partition("/")
    path = SPLITS_DIR / family / f"{part}.json"
    if not part or part == "references" or not path.exists():
        raise ConfigError(f"split: unknown split {name!r} (known: {', '.join(list_splits())})")
    return path


def get_split(name: str, path: str | Path | None = None) -> Split:
    """The split called ``name`` (``path``: read that file instead, for tests and new families)."""
    p = Path(path) if path is not None else _path(name)
    doc = json.loads(p.read_text())
    if doc.get("format") != FORMAT:
        raise ConfigError(f"split {name}: format {doc.get('format')!r} is not {FORMAT} ({p})")
    if instances_hash(doc["instances"]) != doc.get("sha256"):
        raise ConfigError(f"split {name}: its instances do not match its sha256 (edited? {p}); make a new version")
    decode = KINDS.get(doc.get("kind", ""))
    if decode is None:
        raise ConfigError(f"split {name}: unknown kind {doc.get('kind')!r} (known: {', '.join(KINDS)})")
    return Split(
        name=name,
        env_id=str(doc["env_id"]),
        kind=str(doc["kind"]),
        version=int(doc["version"]),
        max_devices=int(doc["max_devices"]),
        description=str(doc.get("description", "")),
        instances=tuple(decode(i["scenario"]) for i in doc["instances"]),
        held_out=tuple(tuple(i.get("held_out", [])) for i in doc["instances"]),
    )


def load_references(name: str) -> dict[str, dict[str, float]]:
    """Per instance name, every reference method's latency in ms (the family's ``references.json``)."""
    family = _path(name).parent
    ref = family / "references.json"
    if not ref.exists():
        raise ConfigError(f"split {name}: no references.json in {family}")
    return json.loads(ref.read_text())["latency_ms"]


def _register_env_kinds() -> None:
    """NPTP-v1's, MSMDI-v1's and HiDP-v0's instance kinds (envs/split_kinds.py)."""
    from splitgym.envs.split_kinds import DECODERS

    for kind, decode in DECODERS.items():
        register_kind(kind, decode)


_register_env_kinds()
