"""The command line a results row records for a module's ``main(argv)``.

Why not :func:`splitgym.costmodels.provenance.command_line`: that one reads the running process
(``sys.argv`` and ``__main__``), which is right for ``python -m X`` but names pytest when a test
calls ``main([...])``; a row written from a test must still say the command that makes it.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence

__all__ = ["module_command"]


def module_command(module: str, argv: Sequence[str] | None = None) -> str:
    """``python -m <module> <argv>`` (this process's arguments when ``argv`` is None), quoted."""
    args = list(sys.argv[1:] if argv is None else argv)
    return shlex.join(["python", "-m", module, *args])
