"""The rules of the local viewer's server, as pure functions: which requests it answers and what it forwards.

The server signs requests with the user's AWS credentials, so anything that can reach 127.0.0.1 (another user's
process, any web page in the user's browser) must not be able to use it. A request is answered only when:

- its ``Host`` header is exactly ``127.0.0.1:<port>`` (a page on a foreign name that resolves to 127.0.0.1, DNS
  rebinding, is refused);
- a browser's ``Sec-Fetch-Site`` says it comes from the viewer's own page or from the user (a page of another site
  or of another port of 127.0.0.1 is refused);
- its method is GET or HEAD;
- it carries the run's secret: once in the printed URL (:data:`OPEN_PATH`), then in an HttpOnly SameSite=Strict
  cookie that the browser sends only with the viewer's own requests;
- its path is clean (no ``.``/``..``/empty segments, backslashes, control characters or encoded slashes);

and it is forwarded (signed) only when its path is DICOMweb under ``/datastore/<this data store>/studies``.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode

#: The path of the URL the command prints: it checks the secret, sets the cookie and redirects to the viewer.
OPEN_PATH = "/ahictl/open"
#: Query parameters of :data:`OPEN_PATH`: the secret, and the study to open.
SECRET_PARAMETER = "key"  # noqa: S105 - the name of a parameter, not a secret
STUDY_PARAMETER = "study"
#: The only methods answered.
ALLOWED_METHODS = ("GET", "HEAD")
#: A DICOM UID: digits and dots, at most 64 characters.
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
#: The DICOMweb path below the data store's root: ``/studies`` and what follows (UIDs, frame lists, resource names).
_DICOMWEB_REST = re.compile(r"/studies(/[0-9A-Za-z][0-9A-Za-z.,_-]*)*")
_DATASTORE = re.compile(r"/datastore/(?P<id>[^/]*)(?P<rest>/.*)?")
#: Backslashes and control characters: never in a path answered.
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x1f\x7f\\]")
#: The longest request target taken (OHIF's longest QIDO queries are a few hundred characters).
MAX_TARGET_LENGTH = 4096


def cookie_name(port: int) -> str:
    """The secret's cookie: one per port, as browsers share cookies between the ports of a host."""
    return f"ahictl-view-{port}"


def expected_host(port: int) -> str:
    """The one ``Host`` header answered."""
    return f"127.0.0.1:{port}"


def host_allowed(host_headers: list[str], port: int) -> bool:
    """Exactly one ``Host`` header, and it names this server's loopback address and port."""
    return len(host_headers) == 1 and host_headers[0].strip().lower() == expected_host(port)


#: ``Sec-Fetch-Site`` values answered: the viewer's own requests, and the user opening the URL. Browsers send
#: ``same-site`` for a page on another port of 127.0.0.1, which SameSite=Strict does not tell apart.
ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})


def fetch_site_allowed(fetch_site_headers: list[str]) -> bool:
    """No ``Sec-Fetch-Site`` header (a client that is not a browser), or one that is the viewer's own request or the
    user's navigation."""
    return all(value.strip().lower() in ALLOWED_FETCH_SITES for value in fetch_site_headers)


def secret_matches(given: str | None, secret: str) -> bool:
    """``given`` is the run's secret (compared in constant time)."""
    return given is not None and hmac.compare_digest(given.encode(), secret.encode())


def cookie_secret(cookie_headers: list[str], port: int) -> str | None:
    """The value of this server's cookie among the request's ``Cookie`` headers (``name=value; name=value``, as
    browsers send them); None when absent."""
    name = cookie_name(port)
    for header in cookie_headers:
        for pair in header.split(";"):
            key, separator, value = pair.strip().partition("=")
            if separator and key == name:
                return value
    return None


def set_cookie_header(secret: str, port: int) -> str:
    """The ``Set-Cookie`` value that keeps the secret in the browser: HttpOnly (no script reads it), SameSite=Strict
    (no other site's page sends it), for the whole server, for the browser session only."""
    return f"{cookie_name(port)}={secret}; Path=/; HttpOnly; SameSite=Strict"


class RefusedPathError(ValueError):
    """A request target that is not answered; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Target:
    """A request target split and checked: the decoded path and the query pairs."""

    path: str
    query: list[tuple[str, str]]


def parse_target(target: str) -> Target:
    """Split a request target into a clean decoded path and its query pairs; :class:`RefusedPathError` when it is not
    an origin-form target (``/...``), too long, or its path is not clean."""
    if len(target) > MAX_TARGET_LENGTH:
        raise RefusedPathError(414, "the request target is too long")
    if not target.startswith("/"):
        raise RefusedPathError(400, "only paths of this server are answered")
    raw_path, _, raw_query = target.partition("?")
    raw_query = raw_query.split("#", 1)[0]
    if re.search(r"%(2f|5c|00)", raw_path, re.IGNORECASE):
        raise RefusedPathError(400, "encoded slashes, backslashes or NUL in the path")
    try:
        path = unquote(raw_path, errors="strict")
        query = parse_qsl(raw_query, keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError:
        raise RefusedPathError(400, "the path or query is not UTF-8") from None
    if _UNSAFE_IN_PATH.search(path):
        raise RefusedPathError(400, "backslashes or control characters in the path")
    segments = path.split("/")[1:]
    if any(segment in (".", "..") for segment in segments) or "" in segments[:-1]:
        raise RefusedPathError(400, "the path has '.', '..' or empty segments")
    return Target(path=path, query=query)


def is_dicomweb_path(path: str) -> bool:
    """The path is under ``/datastore/`` (any data store): never a file of the app."""
    return path == "/datastore" or path.startswith("/datastore/")


def dicomweb_rest(path: str, datastore_id: str) -> str:
    """The part of a ``/datastore/<id>/studies...`` path after the data store's root, to forward;
    :class:`RefusedPathError` (404) for another data store or a path that is not DICOMweb under ``/studies``."""
    match = _DATASTORE.fullmatch(path)
    if match is None or match.group("id") != datastore_id:
        raise RefusedPathError(404, f"only DICOMweb paths of data store {datastore_id} are forwarded")
    rest = match.group("rest") or ""
    if not _DICOMWEB_REST.fullmatch(rest):
        raise RefusedPathError(404, f"only /datastore/{datastore_id}/studies... (QIDO-RS and WADO-RS) is forwarded")
    return rest


def encoded_query(pairs: list[tuple[str, str]]) -> str:
    """The query pairs encoded as SigV4 canonicalises them (RFC 3986: everything but ``A-Za-z0-9-_.~`` escaped),
    so the signature covers exactly what is sent."""
    return urlencode(pairs, quote_via=quote, safe="")


def viewer_path_for_study(study_uid: str | None) -> str:
    """Where :data:`OPEN_PATH` redirects: the study list, or with a study the viewer opened on it."""
    if study_uid is None:
        return "/"
    return "/viewer?" + urlencode({"StudyInstanceUIDs": study_uid})


def study_uid_problem(value: str) -> str:
    """Why ``value`` is not a DICOM UID ('' when it is)."""
    if len(value) > 64:
        return f"it has {len(value)} characters; a UID has at most 64"
    if not _UID.fullmatch(value):
        return "a UID is digits separated by dots, for example 1.2.840.113619.2.1.1.322987881.621.736170080.681"
    return ""


def open_url(port: int, secret: str, study_uid: str | None = None) -> str:
    """The URL the command prints: opens the viewer (on ``study_uid`` when given) with the run's secret."""
    parameters = {SECRET_PARAMETER: secret}
    if study_uid is not None:
        parameters[STUDY_PARAMETER] = study_uid
    return f"http://{expected_host(port)}{OPEN_PATH}?{urlencode(parameters)}"
