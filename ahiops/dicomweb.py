"""The data store's DICOMweb address: the stack's ``dicomwebUrl`` output, or derived from its region and data store.

HealthImaging serves DICOMweb (QIDO-RS, WADO-RS) on a host of its own, not in the AWS CLI or the SDKs:
``https://dicom-medical-imaging.<region>.amazonaws.com/datastore/<datastoreId>``. Requests are signed with SigV4
under the signing name :data:`SIGNING_NAME`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .errors import StackOutputsError

#: SigV4 signing name of the DICOMweb host (the service's signing name, as for the control and runtime hosts).
SIGNING_NAME = "medical-imaging"

#: Hosts that may be reached over plain http: this machine only (the sandbox and the tests' stand-ins).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_DATASTORE_PATH = re.compile(r"/datastore/(?P<id>[0-9a-z]{32})")


def dicomweb_url(region: str, datastore_id: str) -> str:
    """The DICOMweb root of a data store: ``https://dicom-medical-imaging.<region>.amazonaws.com/datastore/<id>``."""
    return f"https://dicom-medical-imaging.{region}.amazonaws.com/datastore/{datastore_id}"


def dicomweb_url_problem(url: str, datastore_id: str) -> str:
    """Why ``url`` is not the DICOMweb root of data store ``datastore_id`` ('' when it is).

    The root is an https URL (http only on this machine's loopback address) whose path is
    ``/datastore/<datastoreId>`` of this data store, with no query, fragment or user name.
    """
    try:
        parts = urlsplit(url)
        _port = parts.port  # a port that is not a number raises here
    except ValueError as error:
        return f"it is not a URL ({error})"
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        return "it is not an https:// URL"
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        return "plain http is allowed only for 127.0.0.1 (the sandbox); the images travel over it"
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return "it carries a user name, a query or a fragment"
    match = _DATASTORE_PATH.fullmatch(parts.path)
    if match is None:
        return "its path is not /datastore/<datastoreId>"
    if match.group("id") != datastore_id:
        return f"its data store {match.group('id')} is not the stack's data store {datastore_id}"
    return ""


def checked_dicomweb_url(url: str, datastore_id: str, source: str) -> str:
    """``url`` when it is the DICOMweb root of ``datastore_id``; else a :class:`StackOutputsError` naming ``source``."""
    problem = dicomweb_url_problem(url, datastore_id)
    if problem:
        raise StackOutputsError(
            f"{source}: key 'dicomwebUrl' has the value {url!r}: {problem}. Expected "
            f"{dicomweb_url('<region>', datastore_id)}; use the file that `pulumi stack output --json` prints, "
            "unedited."
        )
    return url.rstrip("/")


def proxy_for(url: str) -> str | None:
    """The HTTP proxy to reach ``url`` through, as boto3 would: ``HTTPS_PROXY``/``HTTP_PROXY`` unless ``NO_PROXY``
    names the host; never for this machine's loopback address."""
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    host = parts.hostname or ""
    if host in LOOPBACK_HOSTS or proxy_bypass(host):
        return None
    proxy = getproxies().get(parts.scheme)
    if proxy and "://" not in proxy:
        proxy = "http://" + proxy  # HTTPS_PROXY=host:port, as curl and botocore take it
    return proxy or None
