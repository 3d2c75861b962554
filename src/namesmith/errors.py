"""Errors that reach the user.

Every error a user can cause (a bad file, a bad flag, an unknown character, a
hostile checkpoint) is a :class:`NamesmithError`. The CLI prints its message on
one line and exits with its ``exit_code``; it never shows a traceback for them.
Exit codes: 2 for a user error, 1 for a run that failed although its input was
fine (divergence, a full disk), 130 for Ctrl-C.
"""

from __future__ import annotations


class NamesmithError(Exception):
    """A user error: one clear, actionable line. CLI exit code 2."""

    exit_code = 2


class CorpusError(NamesmithError):
    """The corpus file is missing, empty, not UTF-8, too large, or holds an invalid item."""


class VocabError(NamesmithError):
    """Text holds characters the model's vocabulary does not know."""


class CheckpointError(NamesmithError):
    """A checkpoint file is missing, corrupt, hostile or of the wrong kind."""


class ConfigError(NamesmithError):
    """An option or configuration value is invalid."""


class ConstraintError(NamesmithError):
    """Generation constraints cannot be met (e.g. the rejection budget ran out)."""


class OutputError(NamesmithError):
    """An output path cannot be used: it is an input, a directory or device, not writable, or busy."""


class WriteFailed(NamesmithError):
    """Writing an output failed (disk full, I/O error); the previous file is unchanged. Exit code 1."""

    exit_code = 1


class TrainingDiverged(NamesmithError):
    """The loss became NaN, infinite or worse than guessing. Exit code 1: the run failed, the input was fine."""

    exit_code = 1


class Interrupted(NamesmithError):
    """Ctrl-C during training: the state was saved; exit 130 like any interrupted command."""

    exit_code = 130


def check_bool(name: str, value) -> bool:
    """``value`` if it is True or False; otherwise a ConfigError naming the parameter (``"yes"`` and 1 are not)."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r:.40}")
    return value
