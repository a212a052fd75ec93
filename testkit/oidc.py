"""An OIDC issuer for tests and benchmarks: signing keys made on the spot, tokens signed with them, and the key set
(JWKS) served over HTTP on 127.0.0.1.

``IssuerKeys`` holds an RSA key (``kid`` ``rsa-1``, its JWK declares ``alg: RS256``) and an EC P-256 key (``kid``
``ec-1``, its JWK declares no ``alg``: the verifier derives ES256 from the curve). ``serving_jwks(keys)`` serves their
JWKS from a background thread, counts the requests, and stops when the ``with`` block ends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1"
AUDIENCE = "viewer-client-1"
RSA_KID = "rsa-1"
EC_KID = "ec-1"
#: How long a served key set's server may run at most (a test that forgets to stop it does not hang the suite).
MAX_SERVE_SECONDS = 120.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class IssuerKeys:
    rsa_key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    ec_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = RSAAlgorithm.to_jwk(self.rsa_key.public_key(), as_dict=True)
        ec_jwk = ECAlgorithm.to_jwk(self.ec_key.public_key(), as_dict=True)
        return {
            "keys": [
                {**rsa_jwk, "kid": RSA_KID, "alg": "RS256", "use": "sig"},
                {**ec_jwk, "kid": EC_KID, "use": "sig"},
            ]
        }

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Claims of a Cognito access token for the reader group, issued now, valid one hour; ``None`` removes one."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": "0f1e2d3c-user",
            "client_id": AUDIENCE,
            "token_use": "access",
            "iat": now,
            "exp": now + 3600,
            "cognito:groups": ["radiology"],
            "email": "patient.zero@example.org",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def rs256(self, **claims: Any) -> str:
        return jwt.encode(self.claims(**claims), self.rsa_key, algorithm="RS256", headers={"kid": RSA_KID})

    def es256(self, **claims: Any) -> str:
        return jwt.encode(self.claims(**claims), self.ec_key, algorithm="ES256", headers={"kid": EC_KID})

    def unsigned(self, **claims: Any) -> str:
        """``alg: none``: no signature at all."""
        header = {"alg": "none", "typ": "JWT", "kid": RSA_KID}
        return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(self.claims(**claims)).encode())}."

    def hs256_with_public_key(self, **claims: Any) -> str:
        """HS256 with the RSA public key's PEM bytes as the HMAC secret (the classic algorithm confusion)."""
        secret = self.rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = {"alg": "HS256", "typ": "JWT", "kid": RSA_KID}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(self.claims(**claims)).encode())}"
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"


@dataclass
class JwksServer:
    url: str
    requests: int = 0
    document: Mapping[str, Any] = field(default_factory=dict)
    #: When set, every request is answered with a redirect (302) to this URL.
    redirect: str | None = None


@contextmanager
def serving_jwks(document: Mapping[str, Any]) -> Iterator[JwksServer]:
    """Serve ``document`` at ``http://127.0.0.1:<port>/.well-known/jwks.json`` until the block ends."""
    state = JwksServer(url="", document=document)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            if state.redirect:
                self.send_response(302)
                self.send_header("Location", state.redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps(state.document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    deadline = threading.Timer(MAX_SERVE_SECONDS, server.shutdown)
    deadline.daemon = True
    deadline.start()
    try:
        yield state
    finally:
        deadline.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
