"""Atomic file writes: every file splitgym writes is whole or absent, never a fragment.

Why: a process killed mid-write, or a disk that fills, used to leave a 4 KB fragment in place of
an old plan, or a checkpoint whose parts came from different episodes. Here a file is written to a
temporary name in the same folder (``<name>.tmp<pid>-<token>``; same folder, so the rename stays
on one file system), flushed and fsynced, then renamed over the target (POSIX ``rename`` is
atomic), and the folder is fsynced so the rename itself survives a power cut. On any failure the
temporary file is removed, the old file is left as it was, and the error is one line naming the
file (:class:`WriteError`). Temporary files left by a process that no longer exists (SIGKILL) are
removed by the next write to the same name and by :func:`remove_stale_temps`.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from splitgym.costmodels.errors import SplitgymError

__all__ = [
    "WriteError",
    "atomic_file",
    "atomic_write",
    "atomic_csv",
    "atomic_torch_save",
    "remove_stale_temps",
    "sha256_bytes",
]

_TEMP = re.compile(r"^(?P<name>.+)\.tmp(?P<pid>\d+)-[0-9a-f]+$")


class WriteError(SplitgymError):
    """A file could not be written (full disk, read-only folder); the old file is unchanged."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(folder: str | Path, name: str | None = None) -> list[Path]:
    """Delete the temporary files (of ``name`` only, if given) whose writing process has gone."""
    removed: list[Path] = []
    with contextlib.suppress(OSError):
        for entry in Path(folder).iterdir():
            m = _TEMP.match(entry.name)
            if m and (name is None or m["name"] == name) and not _alive(int(m["pid"])):
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed.append(entry)
    return removed


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """An open temporary file that replaces ``path`` when the block ends without an error.

    Errors from the OS (ENOSPC, EROFS, EACCES) become one :class:`WriteError` line; any other
    error propagates. Either way the temporary file is gone and ``path`` is unchanged."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"{path}: cannot create its folder ({exc.strerror or exc})") from None
    remove_stale_temps(path.parent, path.name)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        _unlink(tmp)
        raise WriteError(
            f"{path}: cannot write ({exc.strerror or exc}); the previous file, if any, is unchanged"
        ) from None
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink()


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; returns ``path``."""
    raw = data.encode() if isinstance(data, str) else data
    with atomic_file(path) as f:
        f.write(raw)
    return Path(path)


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` through :func:`atomic_file` (tensors and state dicts)."""
    import torch

    with atomic_file(path) as f:
        torch.save(obj, f)
    return Path(path)


def atomic_csv(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """``rows`` as a CSV file with a header, written atomically. The columns are every key in the
    order first seen (rows merged from an older file may lack a newer column: its cell is empty).
    Here, not in experiments/, so that agents/ (the benchmark) shares it without importing up."""
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_file(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, restval="")
        w.writeheader()
        w.writerows(rows)
    return Path(path)
