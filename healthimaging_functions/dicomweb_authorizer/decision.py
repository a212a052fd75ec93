"""Whether a DICOMweb request's bearer token is valid, and which persona role HealthImaging assumes for it.

:meth:`Authorizer.decide` checks, in this order, and refuses at the first failure with a reason:

1. the event: a data store ID (the configured one, when the function is bound to one) and a bearer token;
2. the token's header: an accepted algorithm (:data:`~.config.ALGORITHMS`: RSA, RSA-PSS and ECDSA only, so
   never ``none`` and never HMAC) and a ``kid`` the issuer's key set holds (:mod:`.jwks`);
3. the algorithm again, from the key: the JWK's own ``alg`` when it has one must be the header's, an RSA key signs
   only RS*/PS*, an EC key only the ES* of its curve; the header alone never chooses;
4. PyJWT verifies the signature with that key and algorithm only, ``iss``, ``exp``, ``nbf`` and ``iat`` (with
   :data:`~.config.CLOCK_LEEWAY_SECONDS`); then ``iat`` at most :data:`~.config.MAX_TOKEN_AGE_SECONDS` ago;
5. the audience: one of the configured audiences in ``aud`` (a string or a list) or in ``client_id`` (Cognito's
   access tokens carry no ``aud``);
6. ``token_use``, where the token has one, is one the function accepts;
7. the caller's groups (the configured claim: a list, or a string of names separated by spaces or commas) give a
   persona: the most privileged one whose groups they meet (admin, then importer, then reader).

A :class:`Decision` says what was decided and why; it carries no token and no claim but ``sub`` and ``iss``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from .config import (
    ALGORITHMS,
    CLOCK_LEEWAY_SECONDS,
    MAX_TOKEN_AGE_SECONDS,
    PERSONAS_BY_PRIVILEGE,
    AuthorizerConfig,
)
from .jwks import JwksCache, JwksUnavailableError

#: The curve of an EC key -> the one ECDSA algorithm it signs with.
EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
RSA_ALGORITHMS = frozenset(a for a in ALGORITHMS if a.startswith(("RS", "PS")))
#: A longer bearer token is refused unread (identity providers' tokens are a few kilobytes).
MAX_TOKEN_CHARACTERS = 16 * 1024
_GROUP_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class Decision:
    """What the authorizer decided for one request."""

    valid: bool
    reason: str
    role_arn: str | None = None
    persona: str | None = None
    #: The verified token's ``sub`` and ``iss`` (None before the signature is verified).
    subject: str | None = None
    issuer: str | None = None

    def response(self) -> dict[str, Any]:
        """HealthImaging's answer: ``roleArn`` only for a valid token."""
        if self.valid and self.role_arn:
            return {"isTokenValid": True, "roleArn": self.role_arn}
        return {"isTokenValid": False}


def refused(reason: str, claims: Mapping[str, Any] | None = None) -> Decision:
    claims = claims or {}
    return Decision(valid=False, reason=reason, subject=_text(claims.get("sub")), issuer=_text(claims.get("iss")))


def _text(value: Any) -> str | None:
    return value[:256] if isinstance(value, str) else None


def key_algorithm(jwk: Mapping[str, Any], header_algorithm: str) -> str | None:
    """The algorithm the key ``jwk`` verifies the token with, or None when the header's does not fit the key."""
    declared = jwk.get("alg")
    if declared is not None and declared != header_algorithm:
        return None
    if jwk.get("kty") == "RSA":
        return header_algorithm if header_algorithm in RSA_ALGORITHMS else None
    if jwk.get("kty") == "EC":
        return header_algorithm if EC_ALGORITHMS.get(str(jwk.get("crv"))) == header_algorithm else None
    return None


def groups_of(value: Any) -> set[str]:
    """The caller's groups from the claim's value: a list of names, or one string of names separated by spaces or
    commas; anything else is no group."""
    if isinstance(value, str):
        return {group for group in _GROUP_SEPARATORS.split(value) if group}
    if isinstance(value, list):
        return {group for group in value if isinstance(group, str) and group}
    return set()


def _audiences_of(claims: Mapping[str, Any]) -> set[str]:
    aud = claims.get("aud")
    found = (
        {aud} if isinstance(aud, str) else {a for a in aud if isinstance(a, str)} if isinstance(aud, list) else set()
    )
    client_id = claims.get("client_id")
    if isinstance(client_id, str):
        found.add(client_id)
    return found


class Authorizer:
    """Decides requests for one configuration, with the issuer's keys cached across invocations."""

    def __init__(self, config: AuthorizerConfig, keys: JwksCache, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.keys = keys
        self._clock = clock

    def decide(self, event: Mapping[str, Any]) -> Decision:
        config = self.config
        datastore_id, token = event.get("datastoreId"), event.get("bearerToken")
        if not isinstance(datastore_id, str) or not isinstance(token, str) or not token:
            return refused("the event lacks a datastoreId or a bearerToken")
        if len(token) > MAX_TOKEN_CHARACTERS:
            return refused(f"the bearer token is longer than {MAX_TOKEN_CHARACTERS} characters")
        if config.datastore_id is not None and datastore_id != config.datastore_id:
            return refused(f"the request is for data store {datastore_id[:64]!r}, not {config.datastore_id}")

        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            return refused("the bearer token is not a JWT")
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS:
            return refused(
                f"the token's algorithm {str(algorithm)[:16]!r} is not accepted (only {', '.join(ALGORITHMS)})"
            )
        if not isinstance(kid, str) or not kid:
            return refused("the token's header has no kid")
        try:
            jwk = self.keys.jwk(kid)
        except JwksUnavailableError as error:
            return refused(str(error))
        if jwk is None:
            return refused(f"the issuer's key set has no key {kid[:64]!r}")
        verify_with = key_algorithm(jwk, algorithm)
        if verify_with is None:
            return refused(f"the key {kid[:64]!r} does not sign with {algorithm}")

        try:
            claims = jwt.decode(
                token,
                key=self.keys.key(kid, verify_with),
                algorithms=[verify_with],
                issuer=config.issuer,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            return refused("the token has expired")
        except jwt.ImmatureSignatureError:
            return refused("the token is not valid yet (nbf or iat in the future)")
        except jwt.InvalidSignatureError:
            return refused("the token's signature does not verify")
        except jwt.InvalidIssuerError:
            return refused("the token's issuer is not the configured one")
        except jwt.InvalidTokenError as error:
            # PyJWT's messages name the claim or the failure, never the token.
            return refused(f"the token is invalid: {type(error).__name__}: {str(error)[:200]}")

        iat = claims["iat"]
        if not isinstance(iat, (int, float)) or self._clock() - iat > MAX_TOKEN_AGE_SECONDS:
            return refused(f"the token was issued more than {MAX_TOKEN_AGE_SECONDS // 3600} hours ago", claims)
        if not _audiences_of(claims) & set(config.audiences):
            return refused("the token is for none of the configured audiences (aud or client_id)", claims)
        token_use = claims.get("token_use")
        if token_use is not None and token_use not in config.token_uses:
            return refused(f"the token's token_use {str(token_use)[:16]!r} is not accepted", claims)

        groups = groups_of(claims.get(config.groups_claim))
        for persona in PERSONAS_BY_PRIVILEGE:
            if groups & set(config.persona_groups.get(persona, ())):
                return Decision(
                    valid=True,
                    reason=f"persona {persona}",
                    role_arn=config.persona_role_arns[persona],
                    persona=persona,
                    subject=_text(claims.get("sub")),
                    issuer=_text(claims.get("iss")),
                )
        return refused(f"none of the caller's groups (claim {config.groups_claim!r}) maps to a persona", claims)
