"""Read-only checks of a deployed stack against what the program meant (``ahictl verify``).

Each check is a small function that looks at one thing and returns an :class:`~ahiops.verify_context.Outcome`;
:func:`verify_stack` runs them all in order, and one failing AWS call makes only its own check an
``error``: the others still run. The optional canary (:mod:`ahiops.canary`) imports one synthetic file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3

from . import checks_account, checks_buckets, checks_datastore, checks_datastore_options, checks_import_role
from .canary import CanaryOptions, check_canary
from .errors import OpsError
from .stack_outputs import StackOutputs
from .verify_context import (
    ERROR,
    FAIL,
    PASS,
    CheckNotRunError,
    FailedCheckError,
    Outcome,
    Status,
    VerifyContext,
)

__all__ = ["Check", "CheckResult", "all_passed", "planned_checks", "results_to_json", "run_check", "verify_stack"]


#: Checks that must pass before the canary writes anything (right account and region, a data store that can import).
CANARY_PREREQUISITES = ("credentials", "account", "region", "datastore.status")


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: the check's id, pass/fail/error, and what was found."""

    id: str
    status: Status
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class Check:
    """A named check."""

    id: str
    run: Callable[[VerifyContext], Outcome]


def planned_checks(ctx: VerifyContext, *, canary: CanaryOptions | None = None) -> list[Check]:
    """Every check, in report order."""
    checks = [
        Check("credentials", checks_account.check_credentials),
        Check("account", checks_account.check_account),
        Check("region", checks_account.check_region),
        Check("healthimaging-api", checks_account.check_healthimaging_api),
        Check("datastore.status", checks_datastore.check_datastore_active),
        Check("datastore.kms-key", checks_datastore.check_datastore_key),
        Check("datastore.lossless-storage-format", checks_datastore_options.check_lossless_storage_format),
        Check("datastore.authorizer", checks_datastore_options.check_authorizer),
    ]
    if ctx.outputs.datastore_lambda_authorizer_arn:
        checks.append(Check("authorizer.resource-policy", checks_datastore_options.check_authorizer_policy))
    for persona, role_arn in sorted(ctx.outputs.dicomweb_persona_role_arns.items()):
        checks.append(Check(f"authorizer.{persona}-role.trust-policy", _persona_check(persona, role_arn)))
    for bucket in checks_buckets.stack_buckets(ctx):
        for name, function in checks_buckets.BUCKET_CHECKS.items():
            checks.append(Check(f"{bucket.role}-bucket.{name}", _bucket_check(function, bucket)))
    checks.append(Check("import-role.trust-policy", checks_import_role.check_trust_policy))
    for simulation in checks_import_role.simulations(ctx):
        checks.append(Check(simulation.check_id, _simulation_check(simulation)))
    if canary is not None:
        options = canary
        checks.append(Check("canary", lambda ctx: check_canary(ctx, options)))
    return checks


def _bucket_check(
    function: Callable[[VerifyContext, checks_buckets.BucketExpectation], Outcome],
    bucket: checks_buckets.BucketExpectation,
) -> Callable[[VerifyContext], Outcome]:
    return lambda ctx: function(ctx, bucket)


def _persona_check(persona: str, role_arn: str) -> Callable[[VerifyContext], Outcome]:
    return lambda ctx: checks_datastore_options.check_persona_role(ctx, persona, role_arn)


def _simulation_check(simulation: checks_import_role.Simulation) -> Callable[[VerifyContext], Outcome]:
    return lambda ctx: checks_import_role.check_simulation(ctx, simulation)


def run_check(ctx: VerifyContext, check: Check) -> CheckResult:
    """Run one check; whatever goes wrong inside it becomes its own fail or error, never the others'."""
    try:
        outcome = check.run(ctx)
    except FailedCheckError as failure:
        return CheckResult(check.id, FAIL, str(failure))
    except CheckNotRunError as reason:
        return CheckResult(check.id, ERROR, str(reason))
    except OpsError as error:
        return CheckResult(check.id, ERROR, str(error))
    except Exception as error:  # a check must never take the others down
        return CheckResult(check.id, ERROR, f"the check itself failed: {type(error).__name__}: {error}")
    return CheckResult(check.id, outcome.status, outcome.detail)


def verify_stack(
    outputs: StackOutputs,
    session: boto3.session.Session,
    *,
    profile: str | None = None,
    canary: bool = False,
    canary_options: CanaryOptions | None = None,
    on_result: Callable[[CheckResult], Any] | None = None,
) -> list[CheckResult]:
    """Run every check against the deployed stack; ``on_result`` sees each result as it is known.

    ``canary`` adds the end-to-end import (:mod:`ahiops.canary`), the one check that writes."""
    ctx = VerifyContext(outputs, session, profile=profile)
    results: list[CheckResult] = []
    for check in planned_checks(ctx, canary=(canary_options or CanaryOptions()) if canary else None):
        blockers = [r.id for r in results if r.id in CANARY_PREREQUISITES and r.status != PASS]
        if check.id == "canary" and blockers:
            result = CheckResult(
                check.id,
                ERROR,
                f"not run: the canary writes, so it runs only when {', '.join(CANARY_PREREQUISITES)} pass "
                f"({', '.join(blockers)} did not)",
            )
        else:
            result = run_check(ctx, check)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def all_passed(results: Sequence[CheckResult]) -> bool:
    return bool(results) and all(result.status == PASS for result in results)


def results_to_json(results: Sequence[CheckResult]) -> dict[str, Any]:
    """``{"checks": [{"id", "status", "detail"}, ...]}``."""
    return {"checks": [result.to_json() for result in results]}
