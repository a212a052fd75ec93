"""A Cognito user pool's sign-in, played inside Chromium for the browser tests (:meth:`Chromium.intercept`).

The viewer signs users in with the authorization code flow and PKCE against the user pool's issuer
(``https://cognito-idp.<region>.amazonaws.com/<pool>``) and its hosted sign-in domain. Offline neither exists, so
this answers, for one app client and one user:

- ``<issuer>/.well-known/openid-configuration``: Cognito's discovery document (endpoints on the hosted domain);
- ``<domain>/oauth2/authorize``: what the hosted sign-in page does once the user has signed in (no form: the user is
  signed in at once), after checking the request as Cognito would: the client, its registered redirect URI, the
  code flow, S256 PKCE and the ``openid`` scope; it redirects to the app's callback with a code and the app's state;
- ``<domain>/oauth2/token``: the code for tokens, after checking the client, the redirect URI and that the
  ``code_verifier`` hashes to the code's challenge. The access token is Cognito's shape (``client_id``,
  ``token_use: access``, ``cognito:groups``), signed with the test issuer's key, so the stack's authorizer
  verifies it against that issuer's key set.

Every request it refuses is answered 400 and listed in ``refusals``, so a test can show the app asked correctly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt

from testkit.chromium_cdp import InterceptedAnswer, InterceptedRequest
from testkit.oidc import RSA_KID, IssuerKeys


@dataclass
class HostedSignIn:
    keys: IssuerKeys
    issuer: str
    #: ``https://<prefix>.auth.<region>.amazoncognito.com``
    domain: str
    client_id: str
    redirect_uri: str
    #: The signed-in user's groups (``cognito:groups``).
    groups: Sequence[str]
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    #: Access tokens handed out, in order.
    issued: list[str] = field(default_factory=list)

    @property
    def url_patterns(self) -> list[str]:
        return [f"{self.issuer}/*", f"{self.domain}/*"]

    def __call__(self, request: InterceptedRequest) -> InterceptedAnswer:
        url = urllib.parse.urlsplit(request.url)
        path = f"{url.scheme}://{url.netloc}{url.path}"
        if path == f"{self.issuer}/.well-known/openid-configuration" and request.method == "GET":
            return self._json(request, self._discovery())
        if path == f"{self.domain}/oauth2/authorize" and request.method == "GET":
            return self._authorize(dict(urllib.parse.parse_qsl(url.query)))
        if path == f"{self.domain}/oauth2/token" and request.method == "POST":
            return self._token(request, dict(urllib.parse.parse_qsl(request.body)))
        return self._refuse(f"no such endpoint: {request.method} {path}")

    def _discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.domain}/oauth2/authorize",
            "token_endpoint": f"{self.domain}/oauth2/token",
            "userinfo_endpoint": f"{self.domain}/oauth2/userInfo",
            "revocation_endpoint": f"{self.domain}/oauth2/revoke",
            "end_session_endpoint": f"{self.domain}/logout",
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            "response_types_supported": ["code", "token"],
            "scopes_supported": ["openid", "email", "phone", "profile"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def _authorize(self, query: dict[str, str]) -> InterceptedAnswer:
        expected = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "code_challenge_method": "S256",
        }
        wrong = [f"{name}={query.get(name)!r}" for name, value in expected.items() if query.get(name) != value]
        if "openid" not in query.get("scope", "").split():
            wrong.append(f"scope={query.get('scope')!r}")
        if not query.get("code_challenge") or not query.get("state"):
            wrong.append("no code_challenge or state")
        if wrong:
            return self._refuse(f"authorize: {', '.join(wrong)}")
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": query["code_challenge"], "nonce": query.get("nonce", "")}
        location = f"{self.redirect_uri}?{urllib.parse.urlencode({'code': code, 'state': query['state']})}"
        return InterceptedAnswer(302, {"location": location, "cache-control": "no-store"})

    def _token(self, request: InterceptedRequest, form: dict[str, str]) -> InterceptedAnswer:
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("grant_type") != "authorization_code":
            return self._refuse("token: unknown or reused code, or not an authorization_code grant")
        if form.get("client_id") != self.client_id or form.get("redirect_uri") != self.redirect_uri:
            return self._refuse(
                f"token: client_id {form.get('client_id')!r}, redirect_uri {form.get('redirect_uri')!r}"
            )
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if challenge != grant["challenge"]:
            return self._refuse("token: the code_verifier does not hash to the code's challenge")
        now = int(time.time())
        access_token = self.keys.rs256(
            iss=self.issuer, client_id=self.client_id, **{"cognito:groups": list(self.groups)}
        )
        id_claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": "0f1e2d3c-user",
            "token_use": "id",
            "iat": now,
            "auth_time": now,
            "exp": now + 3600,
            "cognito:groups": list(self.groups),
            "email": "patient.zero@example.org",
            **({"nonce": grant["nonce"]} if grant["nonce"] else {}),
        }
        id_token = jwt.encode(id_claims, self.keys.rsa_key, algorithm="RS256", headers={"kid": RSA_KID})
        self.issued.append(access_token)
        return self._json(
            request,
            {"access_token": access_token, "id_token": id_token, "token_type": "Bearer", "expires_in": 3600},
        )

    def _json(self, request: InterceptedRequest, document: dict[str, Any]) -> InterceptedAnswer:
        headers = {"content-type": "application/json", "cache-control": "no-store"}
        if "origin" in request.headers:
            headers["access-control-allow-origin"] = request.headers["origin"]
        return InterceptedAnswer(200, headers, json.dumps(document).encode())

    def _refuse(self, reason: str) -> InterceptedAnswer:
        self.refusals.append(reason)
        return InterceptedAnswer(400, {"content-type": "text/plain"}, reason.encode())
