"""Reading a user's input file (plan, profile, devices or network YAML, trace CSV) safely.

Why one gate: a path can name a FIFO (``open`` blocks forever), ``/dev/zero`` (reading never ends),
a symlink to itself, a directory, a binary file or a file of gigabytes. Each is refused here in one
line of the caller's error type, before anything is read or allocated; what passes is UTF-8 text
below :data:`MAX_BYTES`.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

from splitgym.costmodels.errors import SplitgymError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "read_text", "check_depth"]

#: the largest input file read (a profile of a big model at every row is a few MB)
MAX_BYTES = 64 * 1024 * 1024
#: the deepest nesting of lists and mappings a document may have (the real ones use <= 6)
MAX_DEPTH = 32


def read_text(path: str | Path, kind: str, error: type[SplitgymError], max_bytes: int = MAX_BYTES) -> str:
    """The text of a regular, UTF-8 file of at most ``max_bytes``; ``kind`` names it in the message."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{kind}: no such file {str(path)!r}") from None
    except OSError as exc:  # a symlink loop, a name too long, a permission
        why = "a symlink loop" if exc.errno == errno.ELOOP else exc.strerror
        raise error(f"{kind}: cannot read {str(path)!r} ({why})") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{kind}: {str(path)!r} is a directory, not a {kind} file")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{kind}: {str(path)!r} is not a regular file (a FIFO, device or socket is refused)")
    if st.st_size > max_bytes:
        raise error(f"{kind} {path}: {st.st_size} bytes is more than the {max_bytes} allowed")
    try:
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{kind}: cannot read {str(path)!r} ({exc.strerror})") from None
    if len(data) > max_bytes:  # grew since stat
        raise error(f"{kind} {path}: more than the {max_bytes} bytes allowed")
    if b"\0" in data:
        raise error(f"{kind} {path}: a binary file, not a text (UTF-8) {kind} file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{kind} {path}: not a text (UTF-8) file") from None


def check_depth(doc: Any, where: str, error: type[SplitgymError], limit: int = MAX_DEPTH) -> None:
    """Refuse a document nested deeper than ``limit`` (iterative: no recursion of its own)."""
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise error(f"{where}: nested more than {limit} levels deep")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
