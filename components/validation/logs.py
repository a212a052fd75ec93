"""CloudWatch Logs retention periods."""

from __future__ import annotations

from typing import Any

from ._text import show
from .values import whole_number

#: The retention periods (days) CloudWatch Logs accepts.
LOG_RETENTION_CHOICES: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
#: The shortest retention an audit expects (Security Hub CloudWatch.16, checkov CKV_AWS_338: a year).
AUDIT_LOG_RETENTION_DAYS = 365


def log_retention_problems(setting: str, value: Any) -> list[str]:
    """A retention in days that CloudWatch Logs accepts."""
    if whole_number(value) in LOG_RETENTION_CHOICES:
        return []
    return [
        f"{setting} = {show(value)} is not a retention CloudWatch Logs accepts; choose one of "
        f"{', '.join(map(str, LOG_RETENTION_CHOICES))} (at least {AUDIT_LOG_RETENTION_DAYS} for audit use)."
    ]
