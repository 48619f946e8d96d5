"""The README's own statement of which of its figures the code on main made.

Between ``<!-- results-status -->`` and ``<!-- /results-status -->`` (markers on their own lines)
``readme_figures --write`` writes one paragraph: how many CSVs the README quotes (its spans, lets
and generated tables) and, for each one holding a row whose code has changed since it was made (or
whose commit is unknown), its name and the count of such rows. Why a block and not a test that
every row is fresh: a change to the cost model makes hours of results stale at once, and the
re-runs cannot land in the same commit; with the block, that commit must also say in the README
which figures it left behind (``tests/test_readme_figures.py`` fails until it does), so a stale
figure is never carried silently, and the block reads "made by the code on main" only when
``results_check`` agrees.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from splitgym.costmodels.provenance import REPO
from splitgym.experiments.results_check import stale_rows
from splitgym.experiments.results_csv import read_csv

__all__ = ["STATUS", "quoted", "status_text", "render_status"]

STATUS = re.compile(r"(?P<open><!-- results-status -->\n)(?P<body>.*?)(?P<close><!-- /results-status -->)", re.S)


def quoted(text: str, blocks: list[str]) -> list[str]:
    """Every CSV the README quotes: the spans' and lets' (readme_values), then the blocks'."""
    from splitgym.experiments.readme_values import csvs

    return list(dict.fromkeys([*csvs(text), *blocks]))


def status_text(paths: list[str], root: Path, repo: Path = REPO) -> str:
    """One paragraph: the quoted CSVs that hold stale or unknown rows, or that none do."""
    behind = []
    for name in paths:
        rows = read_csv(root / name) if (root / name).is_file() else []
        states = Counter(state for _, state, _ in stale_rows(rows, repo))
        if states:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
            behind.append(f"`{Path(name).name}` ({counts} of {len(rows)} rows)")
    check = "`python -m splitgym.experiments.results_check` names the changed files"
    if not behind:
        return (
            f"Every one of the {len(paths)} CSVs this README quotes was made by the code on main: no row's "
            f"dependencies changed since its commit ({check.split(' names')[0]} agrees).\n"
        )
    return (
        f"{len(behind)} of the {len(paths)} CSVs this README quotes hold rows made by code that has changed since, "
        f"or by no commit this repository holds; the figures read from them are not yet re-made on main: "
        + "; ".join(behind)
        + f" ({check}; each row records the command that makes it again).\n"
    )


def render_status(text: str, blocks: list[str], root: Path, repo: Path = REPO) -> str:
    """``text`` with its status block (if it has one) written again."""
    if not STATUS.search(text):
        return text
    body = status_text(quoted(text, blocks), root, repo)
    return STATUS.sub(lambda m: m["open"] + body + m["close"], text)
