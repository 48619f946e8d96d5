"""The command a results row records for ``main(argv)`` (experiments/module_command.py)."""

from __future__ import annotations

import shlex
import sys

from splitgym.experiments.module_command import module_command


def test_argv_given_is_quoted_and_none_reads_the_process(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    line = module_command("splitgym.experiments.x", ["--out", "a b", "--groups", "DB:bw50,all-nano:NA"])
    assert line == "python -m splitgym.experiments.x --out 'a b' --groups DB:bw50,all-nano:NA"
    assert shlex.split(line)[3:] == ["--out", "a b", "--groups", "DB:bw50,all-nano:NA"]
    monkeypatch.setattr(sys, "argv", ["prog.py", "--seeds", "0,1"])
    assert module_command("splitgym.experiments.x") == "python -m splitgym.experiments.x --seeds 0,1"
    assert module_command("splitgym.experiments.x", []) == "python -m splitgym.experiments.x"
