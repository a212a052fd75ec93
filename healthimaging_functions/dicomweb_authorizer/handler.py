"""The function's entry point (``dicomweb_authorizer.handler.handle``): HealthImaging's authorizer request in,
``{"isTokenValid": ..., "roleArn": ...}`` out.

The configuration and the issuer's key set are read once per execution environment and kept across invocations
(with provisioned concurrency, before the first request). Every decision is logged as one JSON line: the outcome,
the reason, the persona, the operation and data store, and the verified token's ``sub`` and ``iss``; never the
token, never another claim. Anything unexpected refuses the token (and is logged by its exception type): an
authorizer fails closed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from .config import AuthorizerConfig, ConfigurationError
from .decision import Authorizer, Decision
from .jwks import JwksCache

LOG = logging.getLogger("dicomweb_authorizer")
LOG.setLevel(logging.INFO)

_shared: Authorizer | None = None


def authorizer_from_environment() -> Authorizer:
    """The authorizer of this execution environment, built from the environment on first use."""
    global _shared
    if _shared is None:
        config = AuthorizerConfig.from_environment()
        _shared = Authorizer(config, JwksCache(config.jwks_uri, config.jwks_timeout_seconds))
    return _shared


def handle(event: Mapping[str, Any], context: Any = None, *, authorizer: Authorizer | None = None) -> dict[str, Any]:
    """Lambda's entry point; ``authorizer`` replaces the one built from the environment (for tests)."""
    try:
        decision = (authorizer or authorizer_from_environment()).decide(event)
    except ConfigurationError as error:
        decision = Decision(valid=False, reason=f"the function is misconfigured: {error}")
    except Exception as error:  # fail closed; the exception's text could quote the token, so only its type is logged
        decision = Decision(valid=False, reason=f"unexpected error {type(error).__name__}")
    _log(decision, event)
    return decision.response()


def _log(decision: Decision, event: Mapping[str, Any]) -> None:
    record = {
        "decision": "allowed" if decision.valid else "refused",
        "reason": decision.reason,
        "persona": decision.persona,
        "operation": str(event.get("operation"))[:64] if isinstance(event, Mapping) else None,
        "datastoreId": str(event.get("datastoreId"))[:64] if isinstance(event, Mapping) else None,
        "sub": decision.subject,
        "iss": decision.issuer,
    }
    LOG.log(logging.INFO if decision.valid else logging.WARNING, json.dumps(record, sort_keys=True))
