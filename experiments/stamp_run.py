"""Record in a training run's folder the commit it trains on, stamped over the paths its command
depends on.

    python -m splitgym.experiments.stamp_run RUN_FOLDER splitgym train env=msmdi ...

Why not ``costmodels.provenance``'s own entry point: it stamps every source folder *and all of
experiments/*, results included, so a CSV written a moment earlier (by another step of the same
re-run) marks the run ``+dirty`` and every row collected from it stale. Here the stamp covers
exactly what ``results_check`` later compares (``dependencies.paths_of`` of the command's module),
so a stamp is dirty only when code the run depends on is.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from pathlib import Path

from splitgym.costmodels.provenance import REPO, write_run_provenance
from splitgym.experiments.dependencies import module_of, paths_of

__all__ = ["stamp_run", "main"]


def stamp_run(folder: Path, command: str, repo: Path = REPO) -> dict[str, str]:
    """Write ``provenance.json`` in ``folder`` for a run launched by ``command``."""
    return write_run_provenance(Path(folder), paths_of(module_of(command), repo), command, repo)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="the training run's folder (made if missing)")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the command that will train it")
    args = ap.parse_args(argv)
    if not args.command:
        ap.error("the run's COMMAND is missing")
    prov = stamp_run(args.run, shlex.join(args.command))
    print(f"{args.run}: commit {prov['commit']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
