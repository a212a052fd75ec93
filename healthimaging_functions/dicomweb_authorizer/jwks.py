"""The issuer's signing keys (its JWKS), fetched over HTTPS and kept across invocations.

The key set is fetched on first use and again once it is older than :data:`MAX_AGE_SECONDS`. A token signed with a
key the set lacks (``kid`` unknown: the issuer may have rotated its keys) makes one new fetch, at most once per
:data:`MIN_REFRESH_SECONDS`, so that tokens with made-up key IDs cannot make the function fetch on every request. A
fetch that fails keeps the keys already known. Every fetch is bounded by the configured timeout (well under the
second HealthImaging waits) and reads at most :data:`MAX_JWKS_BYTES`.

Only asymmetric signing keys are kept (``kty`` RSA or EC, ``use`` absent or ``sig``, with a ``kid``); the key objects
PyJWT builds from them are kept too, per key and algorithm, so a warm decision parses no key.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

import jwt

LOG = logging.getLogger("dicomweb_authorizer")

#: A key set older than this is fetched again before use.
MAX_AGE_SECONDS = 3600.0
#: An unknown ``kid`` fetches the key set again at most this often.
MIN_REFRESH_SECONDS = 10.0
#: A key set larger than this is refused (a JWKS holds a few keys, a few kilobytes).
MAX_JWKS_BYTES = 256 * 1024
#: Key types kept: the asymmetric ones the accepted algorithms use.
SIGNING_KEY_TYPES = frozenset({"RSA", "EC"})

Fetch = Callable[[str, float], bytes]


class JwksUnavailableError(Exception):
    """No key set could be fetched and none is known."""


class _SameSchemeRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a URL of the same scheme: an https key set never comes from plain http."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        if urllib.parse.urlsplit(newurl).scheme != urllib.parse.urlsplit(req.full_url).scheme:
            raise urllib.error.HTTPError(newurl, code, "redirect to another scheme refused", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameSchemeRedirects)


def fetch_jwks(uri: str, timeout_seconds: float) -> bytes:
    """The key set document at ``uri`` (bounded in time and size)."""
    request = urllib.request.Request(uri, headers={"Accept": "application/json"})  # noqa: S310 - https, or loopback http (config)
    with _OPENER.open(request, timeout=timeout_seconds) as response:
        body: bytes = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"the key set is larger than {MAX_JWKS_BYTES} bytes")
    return body


def signing_keys(document: Any) -> dict[str, dict[str, Any]]:
    """``kid`` -> JWK for the asymmetric signing keys of a parsed JWKS document."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("the key set has no 'keys' list")
    keys: dict[str, dict[str, Any]] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("kty") in SIGNING_KEY_TYPES and jwk.get("use", "sig") == "sig":
            keys[jwk["kid"]] = jwk
    return keys


class JwksCache:
    """The issuer's keys by ``kid``, fetched when needed (see the module docstring)."""

    def __init__(
        self,
        uri: str,
        timeout_seconds: float,
        *,
        fetch: Fetch = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
        max_age_seconds: float = MAX_AGE_SECONDS,
        min_refresh_seconds: float = MIN_REFRESH_SECONDS,
    ) -> None:
        self.uri = uri
        self.timeout_seconds = timeout_seconds
        self._fetch = fetch
        self._clock = clock
        self._max_age = max_age_seconds
        self._min_refresh = min_refresh_seconds
        self._keys: dict[str, dict[str, Any]] | None = None
        self._fetched_at = 0.0
        self._built: dict[tuple[str, str], jwt.PyJWK] = {}
        #: Fetches attempted so far (for the logs and the tests).
        self.fetches = 0

    def jwk(self, kid: str) -> dict[str, Any] | None:
        """The JWK with this ``kid``, fetching the key set first when it is missing, stale, or lacks the key."""
        now = self._clock()
        if self._keys is None or now - self._fetched_at >= self._max_age:
            self._refresh(now)
        assert self._keys is not None
        found = self._keys.get(kid)
        if found is None and now - self._fetched_at >= self._min_refresh:
            self._refresh(now)
            found = self._keys.get(kid)
        return found

    def key(self, kid: str, algorithm: str) -> jwt.PyJWK:
        """PyJWT's key object for the JWK ``kid`` used with ``algorithm`` (built once, kept with the key set).
        Call :meth:`jwk` first: this reads the keys already known."""
        built = self._built.get((kid, algorithm))
        if built is None:
            assert self._keys is not None
            built = jwt.PyJWK(self._keys[kid], algorithm=algorithm)
            self._built[(kid, algorithm)] = built
        return built

    def _refresh(self, now: float) -> None:
        self.fetches += 1
        try:
            keys = signing_keys(json.loads(self._fetch(self.uri, self.timeout_seconds)))
        except Exception as error:  # any failure: network, TLS, HTTP status, JSON, layout
            self._fetched_at = now  # a failing issuer is not asked again on every request
            LOG.warning(json.dumps({"event": "jwks-fetch-failed", "jwksUri": self.uri, "error": type(error).__name__}))
            if self._keys is None:
                raise JwksUnavailableError(f"the key set at {self.uri} could not be fetched") from None
            return
        self._keys, self._fetched_at, self._built = keys, now, {}
