"""The project's error types, in one place.

Every error a user can cause (a bad plan file, an unknown device, a model that cannot be split)
is a :class:`SplitgymError` whose message is one line naming the field and the bad value, so the
CLI can print it without a traceback.
"""

from __future__ import annotations

__all__ = [
    "SplitgymError",
    "ConfigError",
    "PlanError",
    "ProfileError",
    "UnsupportedModelError",
    "EnvArgumentError",
    "one_line_failure",
]


class SplitgymError(Exception):
    """Base of every user-facing error: its message is one line, printable as is."""


class ConfigError(SplitgymError):
    """A device group, network or scenario description is malformed or names something unknown."""


class EnvArgumentError(ConfigError, ValueError):
    """An env's constructor argument is of the wrong type or value: a ConfigError (one line for a
    person, as Hydra and the CLI print it) that Gymnasium's and SB3's callers can catch as ValueError."""


class PlanError(SplitgymError):
    """A plan document is malformed, of the wrong version, or inconsistent with its model."""


class ProfileError(SplitgymError):
    """A device profile file is missing, malformed, or does not match the model it is used for."""


class UnsupportedModelError(SplitgymError):
    """A model cannot be traced or one of its operations cannot be split spatially."""


def one_line_failure(exc: BaseException) -> str:
    """An unexpected exception (not a :class:`SplitgymError`) as one line and a hint: its type and
    the first line of its message. The CLI and the training app print it instead of a traceback."""
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return (
        f"internal error: {type(exc).__name__}: {first} "
        "(a bug or an input not checked yet; rerun with --debug or SPLITGYM_DEBUG=1 for the traceback)"
    )
