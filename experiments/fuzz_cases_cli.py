"""Fuzz cases of argument lists: every ``splitgym`` verb's options, and ``train``'s overrides.

Each option gets values that are wrong for it (non-finite, negative, huge, 5000 digits, words,
special files); the cases the issue found silently taken (``--partition 5,3``, ``--at`` on a plan
file, ``device=cuda`` without CUDA, ``env.bandwidth_mbps=0``) are marked ``must_refuse``. A case
that a bad value might still let run is bounded (``episodes=1``, tiny models), so none can run long.
"""

from __future__ import annotations

from splitgym.experiments.fuzz_corpus import INPUT, MODEL, Case

__all__ = ["cli_cases", "train_cases"]

KIND_CLI = "CLI arguments of every verb"
KIND_TRAIN = "train Hydra overrides"
#: wrong for every numeric option (none takes them)
NUMBERS = ("-1", "nan", "inf", "-inf", "1e400", "abc", "", "9" * 5000, "1e12", "true", "0x10", "1_000", "[", "1e7")
SMALL = ("--model", MODEL, "--input", str(INPUT))
#: files every path argument is tried with (made by each case: see fuzz_corpus.write_files)
PATHS = ("/dev/zero", "{d}/fifo", "{d}/selflink", "{d}/dir", "{d}/missing.json", "{d}/binary.json", "")
PATH_FILES = (("fifo", "@fifo"), ("selflink", "@selflink"), ("dir", "@dir"), ("binary.json", bytes(range(256))))
#: (verb and fixed arguments, option, its values); the base makes an accepted run cheap
_NUMERIC = [
    (("graph", MODEL), "--input"),
    (("profile", *SMALL, "--board", "nano"), "--k"),
    (("profile", *SMALL, "--board", "nano"), "--knots"),
    (("profile", *SMALL), "--granularity"),
    (("profile", *SMALL), "--widths"),
    (("profile", *SMALL), "--min-run-time"),
    (("profile", *SMALL), "--threads"),
    (("plan", "equal", *SMALL), "--bandwidth"),
    (("simulate", "{d}/plan.json"), "--at"),
    (("execute", "{d}/plan.json"), "--images"),
    (("execute", "{d}/plan.json"), "--warmup"),
    (("execute", "{d}/plan.json"), "--threads"),
    (("execute", "{d}/plan.json", "--backend", "distributed"), "--port"),
    (("execute", "{d}/plan.json"), "--timeout"),
    (("profile-links", "--where", "loopback"), "--messages"),
    (("profile-links", "--where", "loopback"), "--repeats"),
    (("profile-links", "--where", "loopback"), "--busy"),
    (("profile-links", "--where", "loopback"), "--sizes"),
]
_WORDS = [
    (("graph",), None, ("nosuch", "", "a" * 5000, "/dev/zero:f", "{d}/none.py:build", "{d}/fifo:build", ":")),
    (("plan", "equal", *SMALL), "--devices", ("nosuch", "", "/dev/zero", "{d}/binary.yaml", "{d}/fifo.yaml")),
    (("plan", "equal", *SMALL), "--network", ("nosuch", "", "{d}/binary.yaml", "{d}/dir.yaml", "{d}/fifo.yaml")),
    (("plan", "equal", *SMALL), "--partition", ("3,3", "-1", "999", "a,b", ",", "0," * 5000, "[")),
    (("plan", "grid", *SMALL), "--set", ("grid=0", "grid", "=1", "nosuch=1", "grid=nan", "grid=1e400", "grid=")),
    (("plan", *SMALL), None, ("nosuch", "", "equal;ls", "../equal")),
    (("execute", "{d}/plan.json"), "--backend", ("foo", "", "tiles")),
    (("execute", "{d}/plan.json"), "--links", ("foo", "")),
    (
        ("execute", "{d}/plan.json", "--backend", "distributed"),
        "--folder",
        ("/dev/zero", "{d}/fifo", "{d}/binary.json"),
    ),
    (("profile", *SMALL), "--device", ("foo", "cuda", "cuda:7", "", "mps", "cpu:99")),
    (("list",), None, ("foo", "", "devices;ls")),
    (("profile-links",), "--where", ("foo", "")),
    (("profile-links", "--where", "loopback"), "--caps", ("nan", "-1", "abc", "")),
]
#: (verb and fixed arguments) whose positional is a path
_PATH_VERBS = [("simulate",), ("execute",), ("evaluate",), ("report",), ("profile", *SMALL, "--profile")]
#: the known coercions: each once taken silently, now refused
_MUST_REFUSE = [
    ("plan", "equal", *SMALL, "--partition", "5,3"),
    ("simulate", "{d}/plan.json", "--at", "5"),
    ("profile", *SMALL, "--device", "cuda"),
    ("plan", "equal", *SMALL, "--bandwidth", "0"),
    ("profile", *SMALL, "--threads", "0"),
    ("profile", *SMALL, "--threads", "10000"),
    ("execute", "{d}/plan.json", "--backend", "distributed", "--port", "-1"),
    ("profile", *SMALL, "--min-run-time", "nan"),
]


def cli_cases(plan_json: str) -> list[Case]:
    """Every verb's options with wrong values; ``plan_json`` is a valid plan (``{d}/plan.json``)."""
    files = (("plan.json", plan_json), *PATH_FILES)
    cases = [
        Case(KIND_CLI, f"{' '.join(b[:1])} {o} {v[:12]!r}", (*b, o, v), files, True)
        for b, o in _NUMERIC
        for v in NUMBERS
    ]
    for base, option, values in _WORDS:
        for v in values:
            argv = (*base, *((option,) if option else ()), v)
            cases.append(Case(KIND_CLI, f"{base[0]} {option or 'arg'} {v[:12]!r}", argv, files, True))
    cases += [Case(KIND_CLI, f"{b[0]} path {p!r}", (*b, p), files, True) for b in _PATH_VERBS for p in PATHS]
    cases += [Case(KIND_CLI, "known: " + " ".join(a[-2:]), a, files, True) for a in _MUST_REFUSE]
    cases += [
        Case(KIND_CLI, f"unknown {a}", a, files, True)
        for a in [("nosuch",), ("graph",), ("simulate",), ("--nosuch",), ("graph", MODEL, "--nosuch")]
    ]
    return cases


_OVERRIDES = {
    "seed": ("-1", "abc", "1.5", "4294967296", "1e400", "null", "true", "''"),
    "episodes": ("abc", "null", "0", "-5", "1.5", "true"),
    "log_interval": ("0", "-1", "abc"),
    "torch_threads": ("0", "10000", "abc"),
    "checkpoint_every": ("0", "abc"),
    "verbose": ("5", "abc"),
    "device": ("foo", "cuda", "cuda:7", "''", "mps"),
    "agent.kwargs.learning_rate": ("-1", "0", "abc", "nan", "inf", "true"),
    "agent.kwargs.gamma": ("2", "-0.1", "nan"),
    "agent.kwargs.tau": ("0", "2"),
    "agent.kwargs.batch_size": ("0", "-1", "1.5"),
    "agent.kwargs.buffer_size": ("0", "abc"),
    "agent.noise.variance": ("-1", "abc", "nan"),
    "agent.noise.decay": ("-1",),
    "network.bandwidth_mbps": ("true", "0", "-1", "abc", "nan", "[1,2]"),
    "network.latency_ms": ("-1", "abc", "true"),
    "network.per_device_mbps": ("[1,2]", "[true,1,1,1]", "abc"),
    "network.medium": ("foo",),
    "model.input": ("0", "-1", "abc", "8"),
    "env.alpha": ("abc",),
    "env.reward": ("foo",),
    "env.action": ("foo",),
    "env.partition": ("foo", "'5,3'"),
    "eval.every": ("-1", "abc"),
    "nosuch_key": ("1",),
}
_GROUPS = [
    ("env=msmdi",),
    ("env=msmdi", "agent=td3"),
    ("env=nosuch",),
    ("agent=nosuch",),
    ("devices=nosuch",),
    ("devices={d}/binary.yaml",),
    ("devices={d}/fifo.yaml",),
    ("network=nosuch",),
    ("model=nosuch",),
    ("env=nptp", "env.bandwidth_mbps=0"),
    ("env=nptp", "env.bandwidth_mbps=-1"),
    ("env=nptp", "env.bandwidth_mbps=true"),
    ("+nosuch=1",),
    ("seed",),
    ("=1",),
]


def train_cases() -> list[Case]:
    """Bad ``train`` overrides; every one must be refused (so each is also bounded to 1 episode)."""
    files = (("binary.yaml", bytes(range(256))), ("fifo.yaml", "@fifo"))
    sets = [(f"{k}={v}",) for k, vs in _OVERRIDES.items() for v in vs] + _GROUPS
    cases = []
    for overrides in sets:
        given = {o.partition("=")[0] for o in overrides}
        bound = tuple(
            b for b in ("episodes=1", "checkpoint_every=1000", "eval.every=0") if b.split("=")[0] not in given
        )
        argv = ("train", *overrides, *bound, "hydra.run.dir={d}/run")
        cases.append(Case(KIND_TRAIN, " ".join(overrides)[:40], argv, files, True))
    return cases
