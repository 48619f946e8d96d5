"""What makes a run folder (training run, executor ``--folder``, HyPS hub) safe to resume.

Three guards, each a one-line refusal:

* **A lock** (:func:`folder_lock`): ``fcntl.flock`` on ``<folder>/.lock`` for the life of the run,
  so a second run on the same folder fails at once instead of deadlocking or interleaving writes.
  The kernel drops the lock when the process dies, so a killed run never leaves it held.
* **A fingerprint** (:func:`stamp_fingerprint`): what the folder's contents were computed from
  (plan or resolved config, model, weights seed, code version), written on the first run and
  compared on every later one: resuming under another plan would mix two computations.
* **A signature** (:func:`sign` / :func:`verify`): an HMAC-SHA256, with a key private to this
  user on this machine (``$SPLITGYM_KEY_FILE``, default ``~/.config/splitgym/state.key``, mode
  0600), over a manifest that names the sha256 of every file to be unpickled. A folder that was
  copied from elsewhere or edited by hand fails the check before any of its files is loaded: the
  trust model is "load only what this user's splitgym wrote".
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from splitgym.costmodels.atomic import atomic_write, sha256_bytes
from splitgym.costmodels.errors import SplitgymError

__all__ = [
    "FolderError",
    "folder_lock",
    "code_version",
    "digest",
    "stamp_fingerprint",
    "sign",
    "verify",
    "key_path",
    "write_signed",
    "read_signed",
]


class FolderError(SplitgymError):
    """A run folder that is busy, foreign, inconsistent or not signed by this user."""


@contextlib.contextmanager
def folder_lock(folder: str | Path, what: str) -> Iterator[Path]:
    """Hold ``<folder>/.lock`` exclusively for the block; a held lock is one line at once."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise FolderError(
                f"{what}: {folder} is in use by another run (pid {owner}); wait for it or use another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield folder
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def code_version() -> str:
    """The installed splitgym's version: parts computed by another version are not reused."""
    try:
        return metadata.version("splitgym")
    except metadata.PackageNotFoundError:
        return "unknown"


def digest(value: Any) -> str:
    """sha256 of a JSON-able value in canonical form (sorted keys)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def stamp_fingerprint(folder: str | Path, fingerprint: dict[str, Any], what: str) -> bool:
    """Record ``fingerprint`` in ``<folder>/fingerprint.json``, or check it against the one
    there; True when the folder already held one (a resume). A mismatch is one line naming the
    fields that differ."""
    path = Path(folder) / "fingerprint.json"
    if not path.exists():
        atomic_write(path, json.dumps(fingerprint, indent=1, sort_keys=True))
        return False
    try:
        old = json.loads(path.read_text())
        assert isinstance(old, dict)
    except (ValueError, AssertionError, UnicodeDecodeError):
        raise FolderError(f"{what}: {path} is not a fingerprint this program wrote; use an empty folder") from None
    diff = _differences(old, fingerprint)
    if diff:
        raise FolderError(
            f"{what}: {folder} holds a run of another {'/'.join(diff)} "
            f"({', '.join(f'{k}={str(old.get(k))[:16]}' for k in diff)}); use an empty folder"
        )
    return True


def key_path() -> Path:
    env = os.environ.get("SPLITGYM_KEY_FILE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "splitgym" / "state.key"


def _key() -> bytes:
    path = key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # private from its first byte
            try:
                os.write(fd, secrets.token_hex(32).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
    return path.read_text().strip().encode()


def sign(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with an ``hmac`` field over the rest of it."""
    body = {k: v for k, v in doc.items() if k != "hmac"}
    return {**body, "hmac": hmac.new(_key(), digest(body).encode(), "sha256").hexdigest()}


def verify(doc: dict[str, Any], source: str | Path) -> None:
    """Refuse (one line) a document this user's splitgym did not sign."""
    body = {k: v for k, v in doc.items() if k != "hmac"}
    want = hmac.new(_key(), digest(body).encode(), "sha256").hexdigest()
    if not isinstance(doc.get("hmac"), str) or not hmac.compare_digest(doc["hmac"], want):
        raise FolderError(
            f"{source}: not signed by this user's splitgym (key {key_path()}): refusing to load files "
            "that could run code; resume only folders you wrote"
        )


def _signature(path: Path) -> Path:
    return path.with_name(path.name + ".sig.json")


def write_signed(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and, beside it, ``<name>.sig.json``: its sha256
    signed with this user's key (for files whose loading can run code: pickles, exported programs)."""
    path = Path(path)
    atomic_write(path, data)
    atomic_write(_signature(path), json.dumps(sign({"file": path.name, "sha256": sha256_bytes(data)})))
    return path


def read_signed(path: str | Path) -> bytes:
    """The bytes of ``path`` once their hash matches the signed one beside it; one line otherwise.
    Hand these bytes, not the path, to the loader: nothing can be swapped in between."""
    path = Path(path)
    sig = _signature(path)
    if not sig.is_file():
        raise FolderError(f"{path}: no {sig.name} beside it (not written by this splitgym); not loaded")
    try:
        doc = json.loads(sig.read_text())
        assert isinstance(doc, dict)
    except (ValueError, AssertionError, UnicodeDecodeError):
        raise FolderError(f"{sig}: not a signature this program wrote; {path.name} not loaded") from None
    verify(doc, sig)
    data = path.read_bytes()
    if sha256_bytes(data) != doc.get("sha256"):
        raise FolderError(f"{path}: does not match {sig.name} (changed since it was written); not loaded")
    return data
