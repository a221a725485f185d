"""The one error type that carries an exit code; the CLI catches it in one place.

Anything else that escapes is a bug in wfleak and stays a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every wfleak command (documented in the README and ``--help``)."""

    OK = 0
    FINDINGS = 1
    USAGE = 2
    WORKFLOW_FAILED = 3
    INCONCLUSIVE = 4
    """``check``: nothing leaks beyond its thresholds, but a target's evidence is incomplete."""
    INTERRUPTED = 130
    """Ctrl-C: 128 + SIGINT."""
    HANGUP = 129
    """SIGHUP: 128 + the signal, as shells report it."""
    TERMINATED = 143
    """SIGTERM: 128 + the signal."""


class WfleakError(Exception):
    """A problem the user can fix; rendered as one line and mapped to an exit code."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @classmethod
    def with_code(cls, message: str, exit_code: ExitCode) -> WfleakError:
        """Rebuild an error that crossed the process boundary as a message and a code."""
        error = cls(message)
        error.exit_code = exit_code
        return error


class UsageError(WfleakError):
    """Bad option values or combinations."""


class TargetError(WfleakError):
    """The target could not be imported, found, or used as a workflow."""


class WorkflowFailed(WfleakError):
    """A run of the user's workflow raised or timed out."""

    exit_code = ExitCode.WORKFLOW_FAILED
