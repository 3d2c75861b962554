"""Errors that reach the user.

Every error a user can cause (a bad file, a bad flag, an unknown character, a
hostile checkpoint) is a :class:`NamesmithError`. The CLI prints its message on
one line and exits with its ``exit_code``; it never shows a traceback for them.
"""

from __future__ import annotations


class NamesmithError(Exception):
    """A user error: one clear, actionable line. CLI exit code 2."""

    exit_code = 2


class CorpusError(NamesmithError):
    """The corpus file is missing, empty, not UTF-8, or holds an invalid item."""


class VocabError(NamesmithError):
    """Text holds characters the model's vocabulary does not know."""


class CheckpointError(NamesmithError):
    """A checkpoint file is missing, corrupt, hostile or of the wrong kind."""


class ConfigError(NamesmithError):
    """An option or configuration value is invalid."""


class ConstraintError(NamesmithError):
    """Generation constraints cannot be met (e.g. the rejection budget ran out)."""


class TrainingDiverged(NamesmithError):
    """The loss became NaN or infinite. Exit code 1: the run failed, the input was fine."""

    exit_code = 1
