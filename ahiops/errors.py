"""Typed errors of the operational library.

Every error here is a problem the user can act on: ``str(error)`` is the whole message (what went wrong,
which value, what to do) and ``exit_code`` is what a command line should exit with.
"""

from __future__ import annotations


class OpsError(Exception):
    """A problem the user can act on; ``str(error)`` is the full message (what, which value, what to do)."""

    exit_code: int = 1
    #: AWS's error code when the error came from an AWS call (for example ``AccessDeniedException``), else None.
    aws_error_code: str | None = None


class UsageError(OpsError):
    """Bad flags, a bad path, a bad outputs file or key: the command was used wrongly (exit 2)."""

    exit_code = 2


class StackOutputsError(UsageError):
    """The stack's outputs are missing, unreadable or malformed; the message names the file (or stack) and key."""


class AwsAccessError(OpsError):
    """No or expired credentials, the wrong account or region, or access denied."""


class ServiceError(OpsError):
    """An AWS call failed after retries; the message names the operation and AWS's error code and message."""
