"""ProfileSpec: what a device entry says about its profile (board or file, form and options).

A devices YAML entry names its source, ``board: nano`` (measured here for ``local-*``, else the
profile store or derivation) or ``profile: boards/nano_vgg16_3x224x224.json`` (a file measured
elsewhere, resolved against the YAML's folder), and optionally its form (``form: table | linear |
piecewise | knn`` with ``k:`` or ``knots:``). Without ``form`` each family keeps its default:

- ``local-*`` (measured on this machine) and brought files: ``table``, since they are
  measurements, and interpolating them is the least assumption;
- derived boards: what :func:`~splitgym.costmodels.profiles.derive` gives (the board's own
  model of the local measurement); an explicit form is fitted to the derived raw table instead.

A derived board may also say its shape, ``derive: gpu | linear | table`` (see :func:`_derive`).

The spec is hashable and is the profile cache's key, so two devices with one board but other
forms get two profiles. Bad values are one line naming the device and field.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splitgym.costmodels.boards import board as lookup_board
from splitgym.costmodels.errors import ConfigError, SplitgymError
from splitgym.costmodels.profile_forms import FORMS

__all__ = [
    "DERIVATIONS",
    "ProfileSpec",
    "spec_from_entry",
    "canonical_sha256",
    "default_form",
    "find_profile_file",
    "file_sha256",
    "known_profile",
]


DERIVATIONS = ("gpu", "linear", "table")


def canonical_sha256(doc: Any) -> str:
    """sha256 of a JSON document's canonical text (sorted keys, no spaces): what plans record,
    so re-indenting a profile file does not change its identity but editing a number does."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ProfileSpec:
    """A device's profile source and form; ``board`` is a board name or a profile file's path."""

    board: str
    form: str | None = None  # None: the family default (see the module docstring)
    k: int | None = None
    knots: int | None = None
    sha256: str | None = None  # a file's canonical content hash, when the source is a file
    derive: str | None = None  # a derived board's shape (gpu | linear | table); None: its family's default
    where: str = field(default="", compare=False)  # "devices.<name>" for messages

    @property
    def is_file(self) -> bool:
        return self.board.endswith(".json")

    @property
    def options(self) -> dict[str, Any]:
        """The form and its options as set (what a plan records), without the defaults."""
        pairs = (("form", self.form), ("k", self.k), ("knots", self.knots), ("derive", self.derive))
        return {k: v for k, v in pairs if v is not None}

    def key(self) -> str:
        """The cache key: the board alone for a default spec (so ``{board: profile}`` mappings
        given to the simulators still apply), else the board with its form and options."""
        return self.board + "".join(f"|{k}={v}" for k, v in self.options.items())

    def label(self) -> str:
        return self.where or self.board


def default_form(board: str) -> str:
    """The form a board family uses when its entry names none."""
    return "table" if board.startswith("local-") or board.endswith(".json") else "derived"


def _positive_int(entry: dict[str, Any], key: str, where: str, least: int) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{where}.{key}: expected an integer >= {least}, got {value!r}")
    return value


def _form(entry: dict[str, Any], where: str) -> tuple[str | None, int | None, int | None]:
    form = entry.get("form")
    if form is not None and form not in FORMS:
        raise ConfigError(f"{where}.form: expected one of {', '.join(FORMS)}, got {form!r}")
    k = _positive_int(entry, "k", where, 1)
    knots = _positive_int(entry, "knots", where, 2)
    if k is not None and form != "knn":
        raise ConfigError(f"{where}.k: only applies to form knn, got form {form!r} (set form: knn or drop k)")
    if knots is not None and form != "piecewise":
        raise ConfigError(f"{where}.knots: only applies to form piecewise, got form {form!r}")
    return form, k, knots  # unset options stay None: the defaults apply (and are not recorded)


def _derive(entry: dict[str, Any], board: str, where: str) -> str | None:
    """The derivation a derived board's entry asks for: ``gpu`` (the wave model, GPU boards'
    default), ``linear`` (the local CPU's per-unit linear fit scaled: every board's shape before
    the wave model, and CPU boards' default) or ``table`` (the raw local table scaled)."""
    shape = entry.get("derive")
    if shape is None:
        return None
    if shape not in DERIVATIONS:
        raise ConfigError(f"{where}.derive: expected one of {', '.join(DERIVATIONS)}, got {shape!r}")
    if board.startswith("local-"):
        raise ConfigError(f"{where}.derive: {board} is measured here, not derived (drop derive)")
    if shape == "gpu" and lookup_board(board).processor != "gpu":
        raise ConfigError(f"{where}.derive: gpu needs a GPU board, {board} is a {lookup_board(board).processor} board")
    lookup_board(board)  # an unknown board is one line here, not at first use
    return str(shape)


def spec_from_entry(entry: dict[str, Any], base_dir: Path | None = None) -> ProfileSpec:
    """The spec of one devices-YAML entry; a relative ``profile:`` resolves against ``base_dir``
    (the YAML's folder; the working directory for a mapping given in code)."""
    where = f"devices.{entry.get('name')}"
    board, path = entry.get("board"), entry.get("profile")
    if path is None and isinstance(board, str) and board.endswith(".json"):  # a file given as a board
        board, path = None, board
    if (board is None) == (path is None):
        raise ConfigError(f"{where}: give a board or a profile file (got board={board!r}, profile={path!r})")
    form, k, knots = _form(entry, where)
    if path is None:
        return ProfileSpec(str(board), form, k, knots, derive=_derive(entry, str(board), where), where=where)
    if entry.get("derive") is not None:
        raise ConfigError(f"{where}.derive: a brought profile file is measured, not derived (drop derive)")
    if not isinstance(path, str) or not path.endswith(".json"):
        raise ConfigError(f"{where}.profile: expected a profile .json file, got {path!r}")
    full = Path(path) if Path(path).is_absolute() else (base_dir or Path.cwd()) / path
    if not full.is_file():
        raise ConfigError(f"{where}.profile: no such file {str(full)!r}")
    return ProfileSpec(str(full.resolve()), form, k, knots, file_sha256(full, where, ConfigError), where=where)


#: Profile files read this run, by content hash: a plan made in memory from a devices YAML finds
#: its brought profile again by what it holds, wherever the YAML named it from.
_SEEN: dict[str, Path] = {}


def find_profile_file(
    name: str, sha256: str | None, folder: Path | None, others: list[Path], where: str, error: type[SplitgymError]
) -> Path:
    """A brought profile recorded in a plan by a relative path and hash: a file seen this run with
    that hash, else the path from the plan's ``folder``, else its file name next to the plan and
    in ``others`` (the profile store, the working directory). A file found whose content differs
    from the hash is one line (the plan was made with another one)."""
    places = ([folder] if folder is not None else []) + others
    seen = [_SEEN[sha256]] if sha256 in _SEEN else []
    named = [folder / name] if folder is not None else []  # a relative path as the plan wrote it
    other = None
    for path in seen + named + [place / Path(name).name for place in places]:
        if path.is_file():
            got = file_sha256(path, where, error)
            if sha256 is None or got == sha256:
                return path.resolve()
            other = other or (path, got)
    if other is not None:
        raise error(
            f"{where}.profile_sha256: {other[0]} has sha256 {other[1][:12]}..., the plan recorded "
            f"{str(sha256)[:12]}... (it was planned with another profile: re-plan, or bring that file)"
        )
    raise error(f"{where}.board: profile file {name!r} not found in {', '.join(str(p) for p in places)}")


def known_profile(sha256: str | None) -> Path | None:
    """The file with this content read in this process, if any."""
    path = _SEEN.get(sha256) if sha256 is not None else None
    return path if path is not None and path.is_file() else None


def file_sha256(path: Path, where: str, error: type[SplitgymError]) -> str:
    """A profile file's canonical hash (remembered, so plans find the file again by content)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{where}.profile: {path} is not a JSON profile ({type(exc).__name__})") from None
    digest = canonical_sha256(doc)
    _SEEN[digest] = path.resolve()
    return digest
