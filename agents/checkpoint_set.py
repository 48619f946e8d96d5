"""A training checkpoint as one consistent, signed set of files.

Why: the parts of a checkpoint (``model.zip``, ``replay_buffer.pkl``, ``best_policy.pt``,
``best.json``, ``progress.json``) used to be replaced one by one, so a disk that filled between
two of them left a model from one episode with a replay buffer and progress from another, and the
resume went on without a word. Now every part is written atomically first and ``manifest.json``
last: it names the episode, the run's fingerprint and the sha256 of each part, signed with this
user's key (:mod:`splitgym.costmodels.run_folder`). A resume reads the manifest (plain JSON),
checks the signature, the fingerprint and every hash, and only then hands the verified *bytes*
(never the path, so nothing can be swapped in between) to SB3's and torch's loaders. Two of the
parts are pickles (SB3's replay buffer, cloudpickled fields of ``model.zip``): they are unpickled
only when the signed manifest vouches for them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from splitgym.costmodels.atomic import atomic_write, sha256_bytes
from splitgym.costmodels.run_folder import FolderError, sign, verify

__all__ = ["MANIFEST", "write_set", "read_set"]

MANIFEST = "manifest.json"


def write_set(folder: Path, parts: dict[str, bytes], episode: int, fingerprint: dict[str, Any]) -> None:
    """Write every part, then the signed manifest naming them (a part of an older set that this
    one lacks is no longer named, so it is never read again)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in parts.items():
        atomic_write(folder / name, data)
    doc = {"episode": episode, "fingerprint": fingerprint, "parts": {n: sha256_bytes(d) for n, d in parts.items()}}
    atomic_write(folder / MANIFEST, json.dumps(sign(doc), indent=1))


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.exists():
        raise FolderError(
            f"resume: {folder} has no {MANIFEST} (a checkpoint from before manifests, or one that was cut off); "
            "nothing in it is loaded"
        )
    try:
        doc = json.loads(path.read_text())
        assert isinstance(doc, dict) and isinstance(doc.get("parts"), dict)
    except (ValueError, AssertionError, UnicodeDecodeError):
        raise FolderError(f"resume: {path} is not a manifest this program wrote") from None
    return doc


def read_set(folder: Path, fingerprint: dict[str, Any]) -> tuple[dict[str, bytes], int]:
    """The verified bytes of every part and the episode the set was written at; one line on a
    missing or unsigned manifest, a foreign fingerprint, or a part whose hash does not match."""
    doc = _manifest(folder)
    verify(doc, folder / MANIFEST)
    if doc.get("fingerprint") != fingerprint:
        old, new = doc.get("fingerprint") or {}, fingerprint
        diff = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        raise FolderError(f"resume: {folder} was written by a run of another {'/'.join(diff)}; use a new run folder")
    out = {}
    for name, want in doc["parts"].items():
        path = folder / Path(name).name
        data = path.read_bytes() if path.is_file() else b""
        if sha256_bytes(data) != want:
            raise FolderError(
                f"resume: {path} does not match {MANIFEST} (episode {doc['episode']}): the checkpoint set is "
                "inconsistent; nothing in it is loaded"
            )
        out[name] = data
    return out, int(doc["episode"])
