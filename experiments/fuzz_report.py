"""Measure how ``splitgym`` answers bad input: the table of issue 22, re-made from the corpus.

    python -m splitgym.experiments.fuzz_report                      # every case, in-process
    python -m splitgym.experiments.fuzz_report --subprocess-every 10   # plus every 10th as a process

Prints one Markdown row per input kind (tried, clean error, accepted, coerced, multi-line,
traceback, hang) and every case that is neither a clean error nor an accepted valid input, with
its arguments and last stderr line, so a regression names its case.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from splitgym.experiments.fuzz_cases_cli import cli_cases, train_cases
from splitgym.experiments.fuzz_corpus import Case, base_documents, file_cases
from splitgym.experiments.fuzz_run import OUTCOMES, Result, run_cases, tally

__all__ = ["all_cases", "markdown"]


def all_cases(seed: int = 0, scale: int = 1) -> list[Case]:
    """The whole corpus: files (plan, YAML, CSV, profile), CLI arguments, train overrides."""
    base = base_documents()
    return file_cases(base, seed, scale) + cli_cases(json.dumps(base["plan"])) + train_cases()


def markdown(rows: list[dict[str, object]]) -> str:
    cols = ["input", "tried", *OUTCOMES]
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols)
    return head + "".join("\n| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows)


def _failures(results: list[Result]) -> str:
    bad = [r for r in results if r.outcome not in ("clean", "accepted")]
    lines = [f"- [{r.outcome}] {r.case.kind}: {r.case.label!r}: `{' '.join(r.case.argv)[:120]}` -> "
             f"status {r.status}: {(r.stderr.strip().splitlines() or [''])[-1][:160]}" for r in bad]  # fmt: skip
    return "\n".join(lines) or "(none)"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=int, default=1, help="mutations per document kind, times this")
    p.add_argument("--subprocess-every", type=int, default=0, help="also run every Nth case as a process (0: none)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds before a case counts as a hang")
    p.add_argument("--list-accepted", action="store_true", help="also list the mutations taken as valid")
    args = p.parse_args()
    cases = all_cases(args.seed, args.scale)
    t0 = time.perf_counter()
    results = run_cases(cases, timeout_s=args.timeout)
    print(f"in-process: {len(cases)} cases in {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f}")
    print(markdown(tally(results)) + "\n\nnot clean:\n" + _failures(results))
    if args.list_accepted:  # a mutation that leaves a valid document (a name changed, an optional key gone)
        print(
            "\naccepted:\n" + "\n".join(f"- {r.case.kind}: {r.case.label}" for r in results if r.outcome == "accepted")
        )
    if args.subprocess_every:
        picked = cases[:: args.subprocess_every]
        t0 = time.perf_counter()
        sub = run_cases(picked, subprocess_mode=True, timeout_s=args.timeout)
        print(f"\nsubprocess: {len(picked)} cases in {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f}")
        print(markdown(tally(sub)) + "\n\nnot clean:\n" + _failures(sub))


if __name__ == "__main__":
    main()
