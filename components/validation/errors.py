"""The error raised before anything is created when inputs break a rule."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi


class InvalidInputError(pulumi.RunError, ValueError):
    """Raised before anything is created when one or more inputs break a rule.

    A ``pulumi.RunError`` makes the Pulumi CLI print the message without a Python traceback.
    ``problems`` keeps the individual sentences for callers and tests.
    """

    def __init__(self, subject: str, problems: Sequence[str]) -> None:
        self.subject = subject
        self.problems = list(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{subject}: {count} {noun} found; nothing was created.\n{lines}")


def raise_if_problems(subject: str, problems: Sequence[str]) -> None:
    """Raise :class:`InvalidInputError` listing ``problems`` if there are any."""
    if problems:
        raise InvalidInputError(subject, problems)
