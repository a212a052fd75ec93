"""Media types for DICOMweb (PS3.18): Accept negotiation for frames and instances, multipart/related bodies."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

#: What a frame request gets when it names no transfer syntax (PS3.18's default for octet-stream frames).
DEFAULT_FRAME_TRANSFER_SYNTAX = "1.2.840.10008.1.2.1"
_PARAMETER = re.compile(r';\s*([A-Za-z0-9_.+-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)')


@dataclass(frozen=True)
class MediaRange:
    """One entry of an Accept header: ``multipart/related; type="application/octet-stream"; transfer-syntax=*``."""

    media_type: str
    parameters: dict[str, str]

    def get(self, name: str) -> str | None:
        return self.parameters.get(name)


def parse_accept(header: str) -> list[MediaRange]:
    """The media ranges of an Accept header (quoted parameter values unquoted, names lower-case), in order."""
    ranges: list[MediaRange] = []
    for part in _split_outside_quotes(header):
        part = part.strip()
        if not part:
            continue
        media_type, _, rest = part.partition(";")
        parameters = {name.lower(): value.strip('"') for name, value in _PARAMETER.findall(";" + rest if rest else "")}
        ranges.append(MediaRange(media_type.strip().lower(), parameters))
    return ranges


def _split_outside_quotes(header: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def negotiate_multipart(
    accept: str, part_type: str, syntaxes: Sequence[str], default_syntax: str
) -> tuple[str, str] | None:
    """(Content-Type of each part, transfer syntax) for a multipart answer of ``part_type``, or None.

    ``syntaxes`` are those the answer can be given in, the one it is kept in first. Acceptable: no Accept, ``*/*``,
    ``multipart/related`` (or ``multipart/*``) whose ``type`` is ``part_type`` (or absent) and whose
    ``transfer-syntax`` is ``*`` (the kept one), one of ``syntaxes``, or absent when ``default_syntax`` is one of
    them. Anything else is not acceptable: the emulator decodes nothing.
    """
    kept = syntaxes[0]
    ranges = parse_accept(accept) if accept.strip() else [MediaRange("*/*", {})]
    for media_range in ranges:
        if media_range.media_type in ("*/*", "multipart/*") and not media_range.parameters:
            return f"{part_type}; transfer-syntax={kept}", kept
        if media_range.media_type not in ("multipart/related", "multipart/*"):
            continue
        if (media_range.get("type") or part_type) != part_type:
            continue
        wanted = media_range.get("transfer-syntax")
        chosen = kept if wanted == "*" else (default_syntax if wanted is None else wanted)
        if chosen in syntaxes:
            return f"{part_type}; transfer-syntax={chosen}", chosen
    return None


def multipart_related(parts: Sequence[tuple[str, bytes]], part_type: str) -> tuple[str, bytes]:
    """(Content-Type header, body) of a ``multipart/related`` answer with ``parts`` [(part Content-Type, bytes)]."""
    boundary = uuid.uuid4().hex
    chunks: list[bytes] = []
    for content_type, payload in parts:
        chunks.append(f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode())
        chunks.append(payload)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return f'multipart/related; type="{part_type}"; boundary={boundary}', b"".join(chunks)


def split_multipart(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """The parts of a ``multipart/related`` body: [(headers with lower-case names, payload)]; ValueError if malformed."""
    [media_range] = parse_accept(content_type) or [MediaRange("", {})]
    if media_range.media_type != "multipart/related":
        raise ValueError(f"the body is {media_range.media_type or 'untyped'}, not multipart/related")
    boundary = media_range.get("boundary")
    if not boundary:
        raise ValueError("the multipart/related Content-Type has no boundary")
    delimiter = b"--" + boundary.encode()
    sections = body.split(delimiter)
    if len(sections) < 3 or not sections[-1].startswith(b"--"):
        raise ValueError("the multipart body does not end with its closing boundary")
    parts: list[tuple[dict[str, str], bytes]] = []
    for section in sections[1:-1]:
        if section.startswith(b"\r\n"):
            section = section[2:]
        head, separator, payload = section.partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("a part has no blank line after its headers")
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        parts.append((headers, payload))
    return parts
