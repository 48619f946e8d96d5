"""A seeded corpus of bad inputs, one :class:`Case` per try, for every input kind of issue 22.

Why generated, not listed: the issue's figures came from mutating real documents (a plan, a devices
YAML, a profile) and argument lists the way a user or an attacker would; a generator with a seed
re-makes the same cases every run, so the fuzz test (tests/test_fuzz_inputs.py) and the report
(experiments/fuzz_report.py) measure the same thing. File documents live here; argument lists
(CLI verbs, train overrides) in :mod:`fuzz_cases_cli`.

A case's files are written into its own folder; ``{d}`` in its arguments names that folder. A file
whose content is one of :data:`SPECIAL` becomes a FIFO, a symlink to itself or a folder.
"""

from __future__ import annotations

import copy
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Case", "KINDS", "SPECIAL", "HOSTILE", "file_cases", "base_documents", "hostile_files"]

KINDS = (
    "plan JSON -> simulate",
    "CLI arguments of every verb",
    "train Hydra overrides",
    "device / network YAML",
    "bandwidth trace CSV",
    "profile JSON",
)
SPECIAL = ("@fifo", "@selflink", "@dir")
#: values a mutation puts in place of a field: wrong types, out of range, non-finite, huge
HOSTILE: tuple[Any, ...] = (
    None, True, False, -1, 0, -0.5, 1.5, 1e300, -1e300, math.nan, math.inf, -math.inf,
    "abc", "", "x" * 5000, [], [1, 2], [True, 1], {}, {"a": 1}, 2**70, "${nosuch.key}", "300",
)  # fmt: skip
PROFILE_NAME = "local-cpu_vgg11_3x64x64.json"
#: what the plan cases are made from (small: each simulate takes ~0.1 s)
MODEL, INPUT = "vgg11", 64


@dataclass(frozen=True)
class Case:
    """One try: a kind, the ``splitgym`` arguments and the files they name. ``must_refuse``: an
    exit status 0 would be a silent coercion (a known case of a bad value that used to be taken)."""

    kind: str
    label: str
    argv: tuple[str, ...]
    files: tuple[tuple[str, str | bytes], ...] = field(default=())
    must_refuse: bool = False


def base_documents() -> dict[str, Any]:
    """The valid documents the mutations start from: a plan, a devices and a network mapping, a
    profile (the shipped vgg11 one), a trace CSV."""
    from splitgym.agents.planners import run_planner
    from splitgym.costmodels.cluster import Cluster
    from splitgym.costmodels.graph import ModelGraph
    from splitgym.costmodels.profiles import SHIPPED_PROFILES

    graph = ModelGraph.from_torchvision(MODEL, INPUT, weights=False)
    plan = run_planner("equal", graph, Cluster.from_config("DB", 300.0))
    return {
        "plan": json.loads(plan.model_dump_json(exclude_none=True)),
        "devices": {"name": "fz", "devices": [{"name": f"d{i}", "board": b} for i, b in enumerate(["xavier", "nano"])]},
        "network": {
            "name": "fz",
            "bandwidth_mbps": 300,
            "per_device_mbps": None,
            "requester_mbps": 300,
            "latency_ms": 0.0,
            "overhead_ms": 0.0,
            "medium": "switched",
            "trace": {"seed": 1, "per_device": True, "step_s": 60, "duration_s": 600, "low_mbps": 20, "high_mbps": 300},
        },  # fmt: skip
        "profile": json.loads((SHIPPED_PROFILES / PROFILE_NAME).read_text()),
        "csv": "time_s,mbps\n0,100\n10,50\n20,200\n",
    }


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``doc`` (keys and indices), the root excluded."""
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        out.append((*prefix, k))
        if len(out) < 4000:
            out += _paths(v, (*prefix, k))
    return out


def mutate(doc: Any, rng: random.Random) -> tuple[Any, str]:
    """One mutation of a copy of ``doc``: a field replaced by a hostile value, deleted, an unknown
    field added, or a value wrapped in a list; and what was done."""
    doc = copy.deepcopy(doc)
    path = rng.choice(_paths(doc))
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    key, op = path[-1], rng.choice(["replace", "replace", "replace", "delete", "add", "wrap"])
    where = ".".join(map(str, path))
    if op == "replace":
        value = rng.choice(HOSTILE)
        parent[key] = value
        return doc, f"{where}={str(value)[:20]}"
    if op == "delete" and isinstance(parent, dict):
        del parent[key]
        return doc, f"del {where}"
    if op == "add" and isinstance(parent, dict):
        parent["nosuch_field"] = 1
        return doc, f"{where}+nosuch_field"
    parent[key] = [parent[key]]
    return doc, f"[{where}]"


def hostile_files(ext: str) -> list[tuple[str, str | bytes]]:
    """Whole-file attacks on any input: empty, binary, a top-level scalar or list, deep nesting, a
    5000-digit number, NUL bytes, not UTF-8, a FIFO, a self-symlink, a folder."""
    deep = "[" * 100_000 if ext == "json" else "a: " + "[" * 5000
    return [
        ("empty", ""),
        ("binary", bytes(range(256)) * 8),
        ("scalar", "42\n"),
        ("list", "[1, 2, 3]\n"),
        ("deep", deep),
        ("digits", "9" * 5000),
        ("nul", "{\0}"),
        ("latin1", "caf\xe9".encode("latin-1")),
        ("truncated", '{"a": [1, 2' if ext == "json" else "a: [1, 2"),
        ("fifo", "@fifo"),
        ("selflink", "@selflink"),
        ("dir", "@dir"),
    ]


def _text(doc: Any, ext: str) -> str:
    if ext == "json":
        return json.dumps(doc)
    return yaml.safe_dump(doc, sort_keys=False, width=10_000)


def _document_cases(kind: str, base: Any, ext: str, argv: tuple[str, ...], n: int, rng: random.Random) -> list[Case]:
    """``n`` mutations of ``base`` and the whole-file attacks, each as the file ``in.<ext>``."""
    cases = [Case(kind, f"file:{name}", argv, ((f"in.{ext}", body),)) for name, body in hostile_files(ext)]
    for _ in range(n):
        doc, what = mutate(base, rng)
        cases.append(Case(kind, what, argv, ((f"in.{ext}", _text(doc, ext)),)))
    return cases


def _csv_cases(base: str, n: int, rng: random.Random) -> list[Case]:
    """Trace CSVs (named by a network YAML) with hostile cells, rows and headers."""
    kind = "bandwidth trace CSV"
    net = yaml.safe_dump({"name": "t", "bandwidth_mbps": 300, "trace": {"csv": "{d}/trace.csv"}})
    argv = ("plan", "equal", "--model", MODEL, "--input", str(INPUT), "--devices", "DB", "--network", "{d}/net.yaml")
    fixed = [
        ("two rows at 0", "time_s,mbps\n0,100\n0,50\n"), ("row without value", "time_s,mbps\n0,100\n10\n"),
        ("unsorted", "time_s,mbps\n0,1\n20,2\n10,3\n"), ("no header", "0,100\n10,50\n"),
        ("header only", "time_s,mbps\n"), ("nan", "time_s,mbps\n0,nan\n"), ("inf", "time_s,mbps\n0,inf\n"),
        ("negative", "time_s,mbps\n0,-5\n"), ("zero", "time_s,mbps\n0,0\n"), ("start 5", "time_s,mbps\n5,100\n"),
        ("inf time", "time_s,mbps\n0,1\ninf,2\n"), ("words", "time_s,mbps\nzero,fast\n"),
    ]  # fmt: skip
    cases = [Case(kind, name, argv, (("net.yaml", net), ("trace.csv", body)), True) for name, body in fixed]
    cases += [Case(kind, f"file:{n}", argv, (("net.yaml", net), ("trace.csv", b))) for n, b in hostile_files("csv")]
    cells = ["", "nan", "inf", "-1", "0", "abc", "1e400", "9" * 5000, "1,2", '"', "\t", "-0"]
    lines = base.strip().splitlines()
    for _ in range(n):
        rows = [line.split(",") for line in lines]
        r, c = rng.randrange(len(rows)), rng.randrange(2)
        rows[r][c] = rng.choice(cells)
        body = "\n".join(",".join(row) for row in rows) + "\n"
        cases.append(Case(kind, f"cell {r},{c}={rows[r][c][:10]}", argv, (("net.yaml", net), ("trace.csv", body))))
    return cases


def file_cases(base: dict[str, Any], seed: int = 0, scale: int = 1) -> list[Case]:
    """Plan, YAML, CSV and profile cases; ``scale`` multiplies the number of mutations."""
    rng = random.Random(seed)
    plan_argv = ("simulate", "{d}/in.json")
    dev_argv = ("plan", "equal", "--model", MODEL, "--input", str(INPUT), "--devices", "{d}/in.yaml")
    net_argv = ("plan", "equal", "--model", MODEL, "--input", str(INPUT), "--devices", "DB", "--network", "{d}/in.yaml")
    prof_argv = ("profile", "--model", MODEL, "--input", str(INPUT), "--profile", "{d}/in.json")
    yaml_kind = "device / network YAML"
    cases = _document_cases("plan JSON -> simulate", base["plan"], "json", plan_argv, 300 * scale, rng)
    cases += _plan_limit_cases(base["plan"], plan_argv)
    cases += _document_cases(yaml_kind, base["devices"], "yaml", dev_argv, 70 * scale, rng)
    cases += _document_cases(yaml_kind, base["network"], "yaml", net_argv, 90 * scale, rng)
    cases += _yaml_text_cases(dev_argv, net_argv)
    cases += _csv_cases(base["csv"], 50 * scale, rng)
    cases += _document_cases("profile JSON", base["profile"], "json", prof_argv, 110 * scale, rng)
    return cases


def _plan_limit_cases(plan: dict[str, Any], argv: tuple[str, ...]) -> list[Case]:
    """Plans the mutations once let through (fuzz report, issue 22): a device named ``""``, a blank
    or a number, and absurd but finite sizes (costmodels/limits.py); each must be refused."""
    changes: dict[str, tuple[tuple, Any]] = {
        "device name empty": (("devices", 1, "name"), ""),
        "device name blank": (("devices", 1, "name"), "  "),
        "device name 300": (("devices", 1, "name"), 300),
        "latency 1e300": (("network", "latency_ms"), 1e300),
        "overhead 1e8": (("network", "overhead_ms"), 1e8),
        "requester 1e-9 Mbps": (("network", "requester_mbps"), 1e-9),
        "bandwidth 1e13 Mbps": (("devices", 0, "bandwidth_mbps"), 1e13),
    }
    cases = []
    for label, (path, value) in changes.items():
        doc = copy.deepcopy(plan)
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        parent[path[-1]] = value
        cases.append(Case("plan JSON -> simulate", label, argv, (("in.json", json.dumps(doc)),), True))
    return cases


def _yaml_text_cases(dev_argv: tuple[str, ...], net_argv: tuple[str, ...]) -> list[Case]:
    """The YAML attacks of the issue, written as text; each must be refused (status 0 would be a
    silent coercion: ``bandwidth_mbps: true`` taken as 1 Mbps, a misspelt key ignored)."""
    kind = "device / network YAML"
    net = {
        "bandwidth true": "bandwidth_mbps: true\n",
        "bandwidth abc": "bandwidth_mbps: abc\n",
        "bandwidth list": "bandwidth_mbps: [1, 2]\n",
        "latency -1": "bandwidth_mbps: 3\nlatency_ms: -1\n",
        "latency true": "bandwidth_mbps: 3\nlatency_ms: true\n",
        "trace abc": "bandwidth_mbps: 3\ntrace: abc\n",
        "step 0": "bandwidth_mbps: 3\ntrace: {step_s: 0}\n",
        "exabytes": "bandwidth_mbps: 3\ntrace: {step_s: 1.0e-9, duration_s: 1.0e+9}\n",
        "interpolation": "bandwidth_mbps: ${nosuch.key}\n",
        "tabs": "bandwidth_mbps:\n\t3\n",
        "duplicate": "bandwidth_mbps: 3\nbandwidth_mbps: 4\n",
        "nan": "bandwidth_mbps: .nan\n",
        "inf": "bandwidth_mbps: .inf\n",
        "string number": "bandwidth_mbps: '300'\n",
        "misspelt key": "bandwith_mbps: 300\nbandwidth_mbps: 3\n",
        "medium": "bandwidth_mbps: 3\nmedium: wifi\n",
        "per-device bools": "per_device_mbps: [true, 1, 1, 1]\n",
        "latency 1e300": "bandwidth_mbps: 3\nlatency_ms: 1.0e+300\n",
        "bandwidth 1e-300": "bandwidth_mbps: 1.0e-300\n",
        "per-device 1e13": "per_device_mbps: [1.0e+13, 1, 1, 1]\n",
        "trace high 1e13": "bandwidth_mbps: 3\ntrace: {high_mbps: 1.0e+13}\n",
    }
    dev = {
        "no devices": "name: x\n",
        "empty list": "devices: []\n",
        "memory true": "devices: [{name: a, board: nano, memory_mb: true}]\n",
        "memory -1": "devices: [{name: a, board: nano, memory_mb: -1}]\n",
        "board list": "devices: [{name: a, board: [1]}]\n",
        "no name": "devices: [{board: nano}]\n",
        "duplicate names": "devices: [{name: a, board: nano}, {name: a, board: nano}]\n",
        "profile device file": "devices: [{name: a, profile: /dev/zero}]\n",
        "memory 1e300": "devices: [{name: a, board: nano, memory_mb: 1.0e+300}]\n",
        "empty name": "devices: [{name: '', board: nano}]\n",
    }
    return [Case(kind, f"network {n}", net_argv, (("in.yaml", t),), True) for n, t in net.items()] + [
        Case(kind, f"devices {n}", dev_argv, (("in.yaml", t),), True) for n, t in dev.items()
    ]


def write_files(case: Case, folder: Path) -> None:
    """Create ``case``'s files in ``folder`` (FIFOs, self-symlinks and folders for :data:`SPECIAL`)."""
    import os

    folder.mkdir(parents=True, exist_ok=True)
    for name, body in case.files:
        path = folder / name
        if body == "@fifo":
            os.mkfifo(path)
        elif body == "@selflink":
            path.symlink_to(path)
        elif body == "@dir":
            path.mkdir()
        else:
            data = body.encode() if isinstance(body, str) else body
            path.write_bytes(data.replace(b"{d}", str(folder).encode()))
