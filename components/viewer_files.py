"""The files of the OHIF Viewer's built app as the viewer's bucket holds them (pure functions).

Each file keeps its path as its key, gets its content type from its extension, and a cache policy from its name: a
file whose name carries a content hash (``app.bundle.0f6159c501addfe9.js``, ``0ddf166f7a343eda.wasm``) never changes
under that name and is cached for a year (``immutable``); every other file (``index.html``, ``app-config.js``, the
service worker, the manifest) is revalidated on every load (``no-cache``), so that a deployment shows at once. The
hosting files of other platforms (``_redirects``, ``_headers``, ``serve.json``), source maps and the app's own
``app-config.js`` (the component writes its own) are not uploaded.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

#: Cache-Control of a file whose name carries its content hash: a year, never revalidated.
IMMUTABLE = "public, max-age=31536000, immutable"
#: Cache-Control of every other file: revalidated on every load (CloudFront and browsers keep it, but ask first).
REVALIDATE = "no-cache"
#: The configuration the component generates, uploaded in place of the package's own.
APP_CONFIG = "app-config.js"
INDEX = "index.html"
#: Files of the build that are not part of the app as served here.
NOT_UPLOADED = frozenset({"_redirects", "_headers", "serve.json", APP_CONFIG})
NOT_UPLOADED_SUFFIXES = (".map",)
#: Content types the standard library's table lacks or gets wrong for the app.
_CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".jsonc": "application/json",
    ".webmanifest": "application/manifest+json",
    ".webapp": "application/x-web-app-manifest+json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
}
_FALLBACK_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class AppFile:
    """One file of the app: its key in the bucket, where it is on disk, and how it is served."""

    key: str
    path: Path
    content_type: str
    cache_control: str


def content_type(name: str) -> str:
    """The Content-Type a browser needs for ``name`` (by extension)."""
    suffix = Path(name).suffix.lower()
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or _FALLBACK_TYPE


def is_hashed(name: str) -> bool:
    """Whether the file name carries its content hash (so its content never changes under this name)."""
    return bool(re.search(r"(?:^|[./-])[0-9a-f]{16}\.(?:js|css|wasm|woff2?)$", Path(name).name)) or bool(
        re.search(r"\.bundle\.[0-9a-f]{16}\.js$", Path(name).name)
    )


def cache_control(key: str) -> str:
    """A year for content-hashed names; revalidation for the rest."""
    return IMMUTABLE if is_hashed(key) else REVALIDATE


def uploaded(key: str) -> bool:
    """Whether ``key`` belongs in the bucket."""
    return key not in NOT_UPLOADED and not key.endswith(NOT_UPLOADED_SUFFIXES)


def app_files(app_dir: Path) -> list[AppFile]:
    """Every file of the app to upload, sorted by key (so that the plan lists them in a stable order)."""
    files = []
    for path in sorted(p for p in app_dir.rglob("*") if p.is_file()):
        key = path.relative_to(app_dir).as_posix()
        if uploaded(key):
            files.append(AppFile(key, path, content_type(key), cache_control(key)))
    return files


def app_dir_problems(setting: str, app_dir: object) -> list[str]:
    """The directory must be an unpacked OHIF build: ``index.html`` at its top."""
    if not isinstance(app_dir, (str, Path)) or not str(app_dir):
        return [f"{setting} = {app_dir!r}: give the directory of the OHIF Viewer's built app (with its index.html)."]
    if not (Path(app_dir) / INDEX).is_file():
        return [
            f"{setting} = {str(app_dir)!r} holds no {INDEX}: give the directory of an unpacked OHIF Viewer build "
            "(the dist/ folder of the npm package @ohif/app)."
        ]
    return []


_INLINE_SCRIPT = re.compile(r"<script(?P<attributes>[^>]*)>(?P<body>.*?)</script>", re.S | re.I)


def inline_script_hashes(index_html: str) -> list[str]:
    """The CSP source expressions (``'sha256-...'``) of the inline scripts of ``index_html``: the strict
    Content-Security-Policy allows exactly these and no other inline script."""
    hashes = []
    for match in _INLINE_SCRIPT.finditer(index_html):
        if "src=" in match["attributes"].lower() or not match["body"]:
            continue
        digest = hashlib.sha256(match["body"].encode()).digest()
        hashes.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return list(dict.fromkeys(hashes))
