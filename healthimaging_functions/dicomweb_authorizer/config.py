"""The function's settings, from its environment variables (set by
:class:`components.dicomweb_authorizer.DicomwebAuthorizer`).

No secret is ever among them: the identity provider's issuer, audiences and key set are public, and the persona
roles are named. Standard library only: the component imports this module for the variables' names and defaults.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

# ConfigurationError is what reading the settings raises: callers catch it from here.
from ahiops.function_environment import ConfigurationError as ConfigurationError
from ahiops.function_environment import datastore_id, require

#: Environment variable names, shared with the component that sets them.
ISSUER: Final = "OIDC_ISSUER"
AUDIENCES: Final = "OIDC_AUDIENCES"
JWKS_URI: Final = "OIDC_JWKS_URI"
GROUPS_CLAIM: Final = "OIDC_GROUPS_CLAIM"
TOKEN_USES: Final = "OIDC_TOKEN_USES"  # noqa: S105 - a variable name, not a secret
PERSONA_GROUPS: Final = "PERSONA_GROUPS"
PERSONA_ROLE_ARNS: Final = "PERSONA_ROLE_ARNS"
DATASTORE_ID: Final = "DATASTORE_ID"
JWKS_TIMEOUT_SECONDS: Final = "JWKS_TIMEOUT_SECONDS"

REQUIRED: Final = (ISSUER, AUDIENCES, PERSONA_GROUPS, PERSONA_ROLE_ARNS)

#: The personas a token can map to, the most privileged first: a caller in several gets the first that matches.
PERSONA_ADMIN: Final = "admin"
PERSONA_IMPORTER: Final = "importer"
PERSONA_READER: Final = "reader"
PERSONAS_BY_PRIVILEGE: Final = (PERSONA_ADMIN, PERSONA_IMPORTER, PERSONA_READER)

#: Where Cognito user pools put a user's groups (Entra ID: ``groups``, Okta and Keycloak: as configured).
DEFAULT_GROUPS_CLAIM: Final = "cognito:groups"
#: Which ``token_use`` a token may carry when it has one (Cognito's access token; its ID token says ``id``). A token
#: without ``token_use`` (Entra ID, Okta, Keycloak) is not refused for that.
DEFAULT_TOKEN_USES: Final = ("access",)
KNOWN_TOKEN_USES: Final = ("access", "id")
#: How long one fetch of the issuer's JWKS may take: HealthImaging waits one second for the whole decision.
DEFAULT_JWKS_TIMEOUT_SECONDS: Final = 0.5
MAX_JWKS_TIMEOUT_SECONDS: Final = 0.9
#: HealthImaging refuses a token issued more than 12 hours ago; so does the function.
MAX_TOKEN_AGE_SECONDS: Final = 12 * 3600
#: Clock difference tolerated between the identity provider and Lambda for ``exp``, ``nbf`` and ``iat``.
CLOCK_LEEWAY_SECONDS: Final = 30
#: The only signature algorithms accepted (asymmetric; never ``none``, never HMAC).
ALGORITHMS: Final = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,64}")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def default_jwks_uri(issuer: str) -> str:
    """Where an OIDC issuer publishes its keys when no JWKS URI is given (Cognito's place; others often too)."""
    return f"{issuer.rstrip('/')}/.well-known/jwks.json"


def is_https_url(value: str) -> bool:
    """An ``https://`` URL with a host."""
    parts = urlsplit(value)
    return parts.scheme == "https" and bool(parts.hostname)


def _is_loopback_http(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS


@dataclass(frozen=True)
class AuthorizerConfig:
    issuer: str
    audiences: tuple[str, ...]
    jwks_uri: str
    #: persona -> the groups that give it (only personas with a role).
    persona_groups: Mapping[str, tuple[str, ...]]
    #: persona -> the role HealthImaging assumes for a caller with that persona.
    persona_role_arns: Mapping[str, str]
    groups_claim: str = DEFAULT_GROUPS_CLAIM
    token_uses: tuple[str, ...] = DEFAULT_TOKEN_USES
    #: The one data store whose requests are authorized; None: any (the function's resource policy names it).
    datastore_id: str | None = None
    jwks_timeout_seconds: float = DEFAULT_JWKS_TIMEOUT_SECONDS

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> AuthorizerConfig:
        env = os.environ if environ is None else environ
        require(env, REQUIRED)
        issuer = env[ISSUER]
        if not is_https_url(issuer):
            raise ConfigurationError(f"{ISSUER} = {issuer!r} is not an https URL.")
        audiences = _string_list(env, AUDIENCES)
        if not audiences:
            raise ConfigurationError(f"{AUDIENCES} lists no audience; a token must carry one of them.")
        jwks_uri = env.get(JWKS_URI) or default_jwks_uri(issuer)
        # http on loopback only: a key set served locally for tests and development.
        if not (is_https_url(jwks_uri) or _is_loopback_http(jwks_uri)):
            raise ConfigurationError(f"{JWKS_URI} = {jwks_uri!r} is not an https URL.")
        persona_groups = _persona_groups(env)
        persona_role_arns = _persona_role_arns(env, persona_groups)
        token_uses = tuple(use.strip() for use in (env.get(TOKEN_USES) or ",".join(DEFAULT_TOKEN_USES)).split(","))
        if not token_uses or any(use not in KNOWN_TOKEN_USES for use in token_uses):
            raise ConfigurationError(
                f"{TOKEN_USES} = {env.get(TOKEN_USES)!r}: give 'access', 'id' or both, separated by commas."
            )
        return cls(
            issuer=issuer,
            audiences=tuple(audiences),
            jwks_uri=jwks_uri,
            persona_groups=persona_groups,
            persona_role_arns=persona_role_arns,
            groups_claim=env.get(GROUPS_CLAIM) or DEFAULT_GROUPS_CLAIM,
            token_uses=token_uses,
            datastore_id=datastore_id(env, DATASTORE_ID) if env.get(DATASTORE_ID) else None,
            jwks_timeout_seconds=_timeout(env),
        )


def _json(env: Mapping[str, str], name: str) -> object:
    try:
        return json.loads(env[name])
    except ValueError:
        raise ConfigurationError(f"{name} is not JSON; redeploy the stack.") from None


def _string_list(env: Mapping[str, str], name: str) -> list[str]:
    value = _json(env, name)
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ConfigurationError(f"{name} = {env[name]!r} is not a JSON list of non-empty strings.")
    return value


def _persona_groups(env: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    value = _json(env, PERSONA_GROUPS)
    if (
        not isinstance(value, dict)
        or not value
        or any(persona not in PERSONAS_BY_PRIVILEGE for persona in value)
        or any(not isinstance(groups, list) or not groups for groups in value.values())
        or any(not isinstance(group, str) or not group for groups in value.values() for group in groups)
    ):
        raise ConfigurationError(
            f"{PERSONA_GROUPS} = {env[PERSONA_GROUPS]!r} is not a JSON object of personas "
            f"({', '.join(PERSONAS_BY_PRIVILEGE)}) to non-empty lists of group names."
        )
    return {persona: tuple(value[persona]) for persona in PERSONAS_BY_PRIVILEGE if persona in value}


def _persona_role_arns(env: Mapping[str, str], persona_groups: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    value = _json(env, PERSONA_ROLE_ARNS)
    if not isinstance(value, dict) or set(value) != set(persona_groups):
        raise ConfigurationError(
            f"{PERSONA_ROLE_ARNS} must name one role for each persona of {PERSONA_GROUPS} "
            f"({', '.join(persona_groups)}), no more."
        )
    for persona, arn in value.items():
        if not isinstance(arn, str) or not _ROLE_ARN.fullmatch(arn):
            raise ConfigurationError(f"{PERSONA_ROLE_ARNS}: the {persona} role {arn!r} is not an IAM role ARN.")
    return dict(value)


def _timeout(env: Mapping[str, str]) -> float:
    raw = env.get(JWKS_TIMEOUT_SECONDS) or str(DEFAULT_JWKS_TIMEOUT_SECONDS)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= MAX_JWKS_TIMEOUT_SECONDS:
        raise ConfigurationError(
            f"{JWKS_TIMEOUT_SECONDS} = {raw!r} is not a number of seconds above 0 and at most "
            f"{MAX_JWKS_TIMEOUT_SECONDS} (HealthImaging waits one second for the whole decision)."
        )
    return seconds
