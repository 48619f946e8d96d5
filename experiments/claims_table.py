"""What the claims tables of NPTP, HyPS and HiDP share (issue 19, item 2): the CSVs under one
folder with the command that makes each, the ``a-b`` spans and in/outside verdicts their cells
quote, and the writer of the table as CSV (stamped) and Markdown.

Why a module of its own: each paper's table (:mod:`nptp_claims`, :mod:`hyps_claims_table`,
:mod:`hidp_claims_table`) is prose around numbers read from CSVs; these are the few operations all
three do the same way, with DistrEdge's row layout (``distredge_claims_data.KEYS``) so that one
README view (``view=claims`` in ``readme_views``) renders every claims table.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from splitgym.costmodels.atomic import atomic_write
from splitgym.experiments.distredge_claims_data import KEYS, NOT_RUN, Results, row
from splitgym.experiments.readme_views import claims
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["KEYS", "NOT_RUN", "Sources", "row", "span", "verdict", "pct", "write_table", "claims_main"]


class Sources(Results):
    """The CSVs under ``folder``, read once each; ``commands`` maps each to the command that makes it."""

    def __init__(self, folder: Path, commands: dict[str, str]) -> None:
        super().__init__(folder)
        self.commands = commands

    def not_run(self, name: str) -> str:
        return f"not run: `{self.commands[name]}` would write `{name}`"

    def missing(self, *names: str) -> str | None:
        """The first of ``names`` with no CSV, or None when all exist."""
        return next((n for n in names if not self.has(n)), None)

    def absent(self, figure: str, claim: str, paper: str, *names: str) -> dict[str, str] | None:
        """The "not run" row for a claim whose CSVs are not all there (None when they are)."""
        name = self.missing(*names)
        if name is None:
            return None
        return row(figure, claim, paper, self.not_run(name), NOT_RUN, f"`{name}` is missing")


def span(values: Iterable[float], digits: int = 2, unit: str = "") -> str:
    """``lo-hi`` of ``values`` (one figure when they agree at ``digits``), as the paper writes ranges."""
    v = [float(x) for x in values]
    if not v:
        return "-"
    lo, hi = f"{min(v):.{digits}f}", f"{max(v):.{digits}f}"
    return f"{lo}{unit}" if lo == hi else f"{lo}-{hi}{unit}"


def pct(values: Iterable[float], digits: int = 0) -> str:
    """:func:`span` of shares, in percent."""
    return span((100 * float(x) for x in values), digits, "%")


def verdict(values: Iterable[float], lo: float, hi: float) -> str:
    """Where our range lies against the paper's ``lo``-``hi``: inside, overlapping, below or above."""
    v = [float(x) for x in values]
    if lo <= min(v) and max(v) <= hi:
        return "inside"
    if max(v) < lo:
        return "below"
    if min(v) > hi:
        return "above"
    return "overlapping"


def write_table(out: Path, name: str, rows: list[dict[str, Any]]) -> str:
    """``rows`` as ``<name>.csv`` (provenance-stamped) and ``<name>.md`` (what the README block
    renders from that CSV); returns the Markdown."""
    write_csv(out / f"{name}.csv", rows)
    text = claims(rows)
    atomic_write(out / f"{name}.md", text)
    return text


def claims_main(argv: list[str] | None, doc: str, name: str, build: Callable[[Path], list[dict[str, str]]]) -> str:
    """A claims module's command line: ``--out`` (read and written), the table written and printed."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(RESULTS_DIR), help="results folder (read and written)")
    args = ap.parse_args(argv)
    text = write_table(args.out, name, build(args.out))
    print(text, end="")
    return text
