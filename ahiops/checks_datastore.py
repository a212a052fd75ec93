"""Verify checks of the data store: it is ACTIVE, it is the stack's, and it is encrypted with the stack's key."""

from __future__ import annotations

from typing import Any

from .verify_context import FailedCheckError, Outcome, VerifyContext, failed, passed

#: What each non-ACTIVE status means for the user.
_STATUS_ADVICE = {
    "CREATING": "creation is still running; wait a few minutes and run verify again",
    "CREATE_FAILED": "creation failed; see the data store's events and `pulumi up` output, fix the cause and "
    "deploy again",
    "DELETING": "it is being deleted; nothing can be imported into it",
    "DELETED": "it was deleted; deploy the stack again (`pulumi up`) and write new outputs",
}


def datastore_properties(ctx: VerifyContext) -> dict[str, Any]:
    """GetDatastore for the stack's data store, once."""

    def compute() -> dict[str, Any]:
        outputs = ctx.outputs
        try:
            response = ctx.call(
                "medical-imaging", "get_datastore", about=f"{outputs.datastore_id}", datastoreId=outputs.datastore_id
            )
        except FailedCheckError:
            raise FailedCheckError(
                f"there is no data store {outputs.datastore_id} in account {outputs.account_id} region "
                f"{ctx.region}: it was deleted, or the credentials or region are not the stack's"
            ) from None
        assert response is not None
        properties: dict[str, Any] = response["datastoreProperties"]
        return properties

    result: dict[str, Any] = ctx.once("datastore", compute)
    return result


def check_datastore_active(ctx: VerifyContext) -> Outcome:
    """The data store exists, is the stack's (same ARN) and is ACTIVE."""
    properties = datastore_properties(ctx)
    name = properties.get("datastoreName", "")
    status = properties.get("datastoreStatus", "")
    arn = properties.get("datastoreArn", "")
    if arn and arn != ctx.outputs.datastore_arn:
        return failed(f"the data store's ARN is {arn}, not the stack's {ctx.outputs.datastore_arn}")
    if status != "ACTIVE":
        advice = _STATUS_ADVICE.get(status, "it cannot accept imports")
        return failed(f"data store {ctx.outputs.datastore_id} ({name}) is {status}, not ACTIVE: {advice}")
    return passed(f"data store {ctx.outputs.datastore_id} ({name}) is ACTIVE")


def check_datastore_key(ctx: VerifyContext) -> Outcome:
    """The data store is encrypted with the stack's key (or an AWS owned key when the stack has none)."""
    properties = datastore_properties(ctx)
    actual = properties.get("kmsKeyArn") or None
    expected = ctx.outputs.datastore_kms_key_arn
    if expected is None:
        if actual is None:
            return passed("the data store uses an AWS owned key, as the stack says (no datastoreKmsKeyArn)")
        return failed(f"the data store uses key {actual}, but the stack has no datastoreKmsKeyArn")
    if actual is None:
        return failed(f"the data store uses an AWS owned key, not the stack's key {expected}")
    if actual != expected:
        return failed(f"the data store uses key {actual}, not the stack's key {expected}")
    return passed(f"the data store uses the stack's key {expected}")
