"""Every command of the ``make reproduce-*`` targets and of ``make rerun-results`` names a module
that exists and arguments its parser accepts.

Why: these commands run for hours (the re-runs ~12 h on 2 cores), so a renamed flag or module
would be found hours in, or by the next session. The check parses each command's arguments with
the module's own parser and stops there (``parse_args`` is wrapped to raise once it has parsed),
so nothing is run.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
from pathlib import Path

import pytest

from splitgym.experiments.rerun_results import STEPS

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = ROOT / "Makefile"
TARGET = re.compile(r"^(?P<name>[\w-]+):", re.M)
COMMAND = re.compile(r"-m (?P<module>splitgym\.experiments\.\w+)(?P<args>[^|;&\\\n]*)")
LOOP = re.compile(r"for (?P<var>\w+) in (?P<values>[^;]+);")
VARIABLE = re.compile(r"^(?P<name>[A-Z_]+) = (?P<value>.*)$", re.M)


class Parsed(Exception):
    """Raised by the wrapped ``parse_args`` once the arguments parsed: the command is valid."""


def recipes() -> dict[str, str]:
    """Each ``reproduce-*`` target's recipe text (lines up to the next target)."""
    text = MAKEFILE.read_text()
    for var in VARIABLE.finditer(text):  # simple ``NAME = value`` lines, as make expands them
        text = text.replace(f"$({var['name']})", var["value"].strip())
    starts = list(TARGET.finditer(text))
    out = {}
    for m, nxt in zip(starts, [*starts[1:], None]):
        if m["name"].startswith("reproduce-"):
            out[m["name"]] = text[m.end() : nxt.start() if nxt else len(text)]
    return out


def commands(recipe: str) -> list[tuple[str, list[str]]]:
    """``(module, argv)`` of every ``-m splitgym.experiments.X`` in a recipe, shell loops expanded."""
    found = []
    for line in recipe.replace("\\\n", " ").splitlines():
        loops = [(f"$${m['var']}", m["values"].split()) for m in LOOP.finditer(line)]
        for m in COMMAND.finditer(line):
            argvs = [m["args"].split()]
            for var, values in loops:
                if any(var in w for w in argvs[0]):
                    argvs = [[w.replace(var, v) for w in argv] for argv in argvs for v in values]
            found += [(m["module"], argv) for argv in argvs]
    return found


def all_commands() -> list[tuple[str, str, list[str]]]:
    out = [(target, module, argv) for target, recipe in recipes().items() for module, argv in commands(recipe)]
    out += [(f"rerun:{s.name}", s.module, list(s.args)) for s in STEPS if not s.module.startswith("make:")]
    return out


def test_the_makefile_has_the_issue_s_reproduce_targets() -> None:
    names = set(recipes())
    assert {"reproduce-distredge", "reproduce-nptp", "reproduce-msmdi", "reproduce-hyps", "reproduce-hidp"} <= names
    assert "reproduce-models" in names
    assert all(commands(r) for r in recipes().values()), "a reproduce target runs no experiment module"


def test_loops_are_expanded_and_make_variables_refused() -> None:
    got = commands("\tfor t in a b; do $(PY) -m splitgym.experiments.x $$t --seeds 0 || exit 1; done\n")
    assert got == [("splitgym.experiments.x", ["a", "--seeds", "0"]), ("splitgym.experiments.x", ["b", "--seeds", "0"])]


@pytest.mark.parametrize(("where", "module", "argv"), all_commands(), ids=lambda v: v if isinstance(v, str) else None)
def test_each_command_parses(where: str, module: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert not any("$" in w for w in argv), f"{where}: unexpanded variable in {shlex.join(argv)}"
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self: argparse.ArgumentParser, args=None, namespace=None):  # noqa: ANN001, ANN202
        original(self, args, namespace)
        raise Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    main = importlib.import_module(module).main
    with pytest.raises(Parsed):
        main(argv)


def test_a_wrong_flag_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: a flag the parser does not know exits 2 before ``Parsed``."""
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", argparse.ArgumentParser.parse_args)
    main = importlib.import_module("splitgym.experiments.lcpss_samples").main
    with pytest.raises(SystemExit) as e:
        main(["--no-such-flag"])
    assert e.value.code == 2
