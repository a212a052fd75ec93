"""The DICOMweb OIDC authorizer: HealthImaging's Lambda authorizer for DICOMweb requests with a bearer token.

HealthImaging checks a token's ``exp``, ``nbf`` and ``iat`` itself, then invokes this function with
``{"datastoreId", "operation", "bearerToken"}`` and expects ``{"isTokenValid": bool, "roleArn": str}`` within one
second. The function verifies the token against the identity provider's JWKS (signature, issuer, audience, times,
``token_use``) with PyJWT, maps the caller's groups to one persona role and answers; every refusal is logged with its
reason, never with the token.

Modules: :mod:`.handler` (the entry point), :mod:`.config` (settings from the environment), :mod:`.jwks` (the
issuer's keys, cached), :mod:`.decision` (the verification and the persona, pure given the keys).
Third-party packages (PyJWT, cryptography) are pinned with their hashes in ``requirements.txt`` beside this file and
packaged for the Lambda runtime's platform by :mod:`components.lambda_package`.
"""
