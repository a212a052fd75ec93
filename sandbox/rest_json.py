"""The server side of an AWS rest-json protocol, driven by botocore's service model.

Routing (``http.method`` + ``requestUri`` with ``{label}`` and ``{label+}``), request parsing (uri labels,
query strings, headers, JSON body), input validation (required, type, pattern, min, max, enum, union) with
AWS's ValidationException wording, response serialization (timestamps as epoch seconds) with the output
checked against the model, and errors as rest-json expects them (``X-Amzn-ErrorType`` header, JSON body
with ``message``, status code from the error shape). Nothing here knows a particular operation.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import re
import sys
import unicodedata
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.loaders
import botocore.model

#: Java/Smithy regex classes that Python's ``re`` does not know, and their Python spelling (inside a class).
_PATTERN_TRANSLATIONS = {
    r"\p{ASCII}": r"\x00-\x7F",
    r"\p{Alpha}": r"A-Za-z",
    r"\p{Digit}": r"0-9",
    r"\p{Alnum}": r"A-Za-z0-9",
    r"\p{Punct}": r"!-/:-@\[-`{-~",
}
_UNICODE_CATEGORY = re.compile(r"\\p\{([A-Z])\}")


@functools.cache
def _unicode_category_ranges(category: str) -> str:
    """``\\p{L}`` and friends as a character-class body of code point ranges (built once per category)."""
    ranges: list[str] = []
    start = None
    for code in range(sys.maxunicode + 2):
        inside = code <= sys.maxunicode and unicodedata.category(chr(code)).startswith(category)
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            ranges.append(f"\\U{start:08x}-\\U{code - 1:08x}")
            start = None
    return "".join(ranges)


def python_pattern(pattern: str) -> re.Pattern[str]:
    """A model ``pattern`` compiled for Python. AWS validates with a whole-value match (Java's ``matches``)."""
    for java, python in _PATTERN_TRANSLATIONS.items():
        pattern = pattern.replace(java, python if _inside_class(pattern, java) else f"[{python}]")
    pattern = _UNICODE_CATEGORY.sub(
        lambda m: (
            _unicode_category_ranges(m.group(1))
            if _inside_class(pattern, m.group(0))
            else f"[{_unicode_category_ranges(m.group(1))}]"
        ),
        pattern,
    )
    if r"\p{" in pattern:
        raise ValueError(f"the model pattern {pattern!r} uses a character class this stand-in does not translate")
    return re.compile(pattern, re.DOTALL)


def _inside_class(pattern: str, token: str) -> bool:
    """Whether the first ``token`` in ``pattern`` stands inside ``[...]`` (model patterns do not nest classes)."""
    index = pattern.find(token)
    before = pattern[:index]
    return before.count("[") - before.count(r"\[") > before.count("]") - before.count(r"\]")


class ServiceError(Exception):
    """An error answered to the client: ``code`` is an error shape's name (or any AWS error code)."""

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass
class HttpRequest:
    method: str
    path: str  # raw (percent-encoded) path
    query: str  # raw query string
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Route:
    operation: botocore.model.OperationModel
    method: str
    regex: re.Pattern[str]
    literal_length: int  # longer literal parts win over labels when two routes match


@dataclass
class ParsedRequest:
    operation: str
    params: dict[str, Any]
    #: The SigV4 credential scope of the request: access key id, region, service ('' when unsigned).
    access_key_id: str = ""
    region: str = ""
    service: str = ""


_SIGV4_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


def load_service_model(service_name: str) -> botocore.model.ServiceModel:
    loader = botocore.loaders.create_loader()
    return botocore.model.ServiceModel(loader.load_service_model(service_name, "service-2"), service_name)


class ShapeValidator:
    """Checks values against a model's shapes (required, type, pattern, min, max, enum, union), in AWS's wording."""

    def __init__(self, model: botocore.model.ServiceModel) -> None:
        self.model = model
        self._patterns: dict[str, re.Pattern[str]] = {}  # compiled when first used

    def pattern(self, shape: botocore.model.Shape) -> re.Pattern[str] | None:
        if "pattern" not in shape.metadata:
            return None
        if shape.name not in self._patterns:
            self._patterns[shape.name] = python_pattern(shape.metadata["pattern"])
        return self._patterns[shape.name]

    def message(self, shape: botocore.model.Shape, value: Any) -> str | None:
        """AWS's "N validation errors detected: ..." for ``value``, or None when it fits the shape."""
        problems = self.problems(shape, value, "")
        if not problems:
            return None
        count = len(problems)
        return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems)

    def problems(self, shape: botocore.model.Shape, value: Any, path: str) -> list[str]:
        """Every constraint of ``shape`` (and its members) that ``value`` breaks, in AWS's wording."""
        where = path or shape.name
        kind = shape.type_name
        if kind == "structure":
            if not isinstance(value, Mapping):
                return [f"Value at '{where}' failed to satisfy constraint: Member must be a structure"]
            problems: list[str] = []
            members = shape.members
            for name in shape.required_members:
                if value.get(name) is None:
                    problems.append(
                        f"Value null at '{_join(path, name)}' failed to satisfy constraint: Member must not be null"
                    )
            set_members = [name for name in members if value.get(name) is not None]
            if shape.metadata.get("union") and len(set_members) != 1:
                problems.append(
                    f"Value at '{where}' failed to satisfy constraint: exactly one member must be set "
                    f"(set: {', '.join(set_members) or 'none'})"
                )
            for name in set_members:
                problems += self.problems(members[name], value[name], _join(path, name))
            return problems
        if kind == "list":
            if not isinstance(value, list):
                return [f"Value at '{where}' failed to satisfy constraint: Member must be a list"]
            problems = self._size_problems(shape, len(value), where, "length")
            for index, item in enumerate(value, start=1):
                problems += self.problems(shape.member, item, f"{where}.{index}")
            return problems
        if kind == "map":
            if not isinstance(value, Mapping):
                return [f"Value at '{where}' failed to satisfy constraint: Member must be a map"]
            problems = self._size_problems(shape, len(value), where, "length")
            for key, item in value.items():
                problems += self.problems(shape.key, key, f"{where}.key")
                problems += self.problems(shape.value, item, f"{where}.{key}")
            return problems
        if kind == "string":
            if not isinstance(value, str):
                return [f"Value at '{where}' failed to satisfy constraint: Member must be a string"]
            problems = self._size_problems(shape, len(value), where, "length", show=value)
            enum = shape.metadata.get("enum")
            if enum and value not in enum:
                problems.append(
                    f"Value '{value}' at '{where}' failed to satisfy constraint: "
                    f"Member must satisfy enum value set: [{', '.join(enum)}]"
                )
            pattern = self.pattern(shape)
            if pattern is not None and not pattern.fullmatch(value):
                problems.append(
                    f"Value '{value}' at '{where}' failed to satisfy constraint: "
                    f"Member must satisfy regular expression pattern: {shape.metadata['pattern']}"
                )
            return problems
        if kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                return [f"Value '{value}' at '{where}' failed to satisfy constraint: Member must be an integer"]
            return self._size_problems(shape, value, where, "value", show=value)
        if kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return [f"Value '{value}' at '{where}' failed to satisfy constraint: Member must be a number"]
            return self._size_problems(shape, value, where, "value", show=value)
        if kind == "boolean":
            return (
                []
                if isinstance(value, bool)
                else [f"Value at '{where}' failed to satisfy constraint: Member must be a boolean"]
            )
        if kind == "timestamp":
            ok = isinstance(value, (dt.datetime, int, float)) and not isinstance(value, bool)
            return [] if ok else [f"Value at '{where}' failed to satisfy constraint: Member must be a timestamp"]
        if kind == "blob":
            size = len(value) if isinstance(value, (bytes, str)) else None
            if size is None:
                return [f"Value at '{where}' failed to satisfy constraint: Member must be a blob"]
            return self._size_problems(shape, size, where, "length")
        return []

    @staticmethod
    def _size_problems(shape: botocore.model.Shape, size: float, where: str, what: str, show: Any = None) -> list[str]:
        problems = []
        shown = f"Value '{show}'" if show is not None else "Value"
        if "min" in shape.metadata and size < shape.metadata["min"]:
            problems.append(
                f"{shown} at '{where}' failed to satisfy constraint: "
                f"Member must have {what} greater than or equal to {shape.metadata['min']}"
            )
        if "max" in shape.metadata and size > shape.metadata["max"]:
            problems.append(
                f"{shown} at '{where}' failed to satisfy constraint: "
                f"Member must have {what} less than or equal to {shape.metadata['max']}"
            )
        return problems


class RestJsonService:
    """One service's rest-json wire format, from botocore's bundled model."""

    def __init__(self, service_name: str) -> None:
        self.model = load_service_model(service_name)
        if self.model.protocol != "rest-json":
            raise ValueError(f"{service_name} speaks {self.model.protocol}, not rest-json")
        self.validator = ShapeValidator(self.model)
        self.routes: list[Route] = []
        for name in self.model.operation_names:
            operation = self.model.operation_model(name)
            self.routes.append(self._route(operation))
        self.routes.sort(key=lambda route: -route.literal_length)

    def problems(self, shape: botocore.model.Shape, value: Any, path: str) -> list[str]:
        return self.validator.problems(shape, value, path)

    # --- routing ---------------------------------------------------------------------------------------

    @staticmethod
    def _route(operation: botocore.model.OperationModel) -> Route:
        path = operation.http["requestUri"].split("?", 1)[0]
        regex, literal = "", 0
        for part in re.split(r"(\{[^}]+\})", path):
            if part.startswith("{"):
                name = part[1:-1]
                if name.endswith("+"):
                    regex += f"(?P<{name[:-1]}>.+)"
                else:
                    regex += f"(?P<{name}>[^/]+)"
            else:
                regex += re.escape(part)
                literal += len(part)
        return Route(operation, operation.http["method"], re.compile(regex + "/?"), literal)

    def route(self, method: str, path: str) -> tuple[botocore.model.OperationModel, dict[str, str]] | None:
        """The operation for ``method`` + raw ``path``, and its uri labels (percent-decoded)."""
        for route in self.routes:
            if route.method != method:
                continue
            match = route.regex.fullmatch(path)
            if match:
                return route.operation, {key: urllib.parse.unquote(value) for key, value in match.groupdict().items()}
        return None

    # --- requests --------------------------------------------------------------------------------------

    def parse(self, request: HttpRequest) -> ParsedRequest:
        """Route and parse a request (not yet validated). Raises ServiceError for an unknown route or bad JSON."""
        found = self.route(request.method, request.path)
        if found is None:
            raise ServiceError(
                "UnknownOperationException",
                f"no {self.model.service_name} operation answers {request.method} {request.path}",
                status=400,
            )
        operation, labels = found
        params: dict[str, Any] = {}
        input_shape = operation.input_shape
        parsed = ParsedRequest(operation.name, params)
        credential = _SIGV4_CREDENTIAL.search(request.headers.get("authorization", ""))
        if credential:
            parsed.access_key_id, _, parsed.region, parsed.service = credential.groups()
        if input_shape is None:
            return parsed
        query = urllib.parse.parse_qs(request.query, keep_blank_values=True)
        body_members: dict[str, botocore.model.Shape] = {}
        payload_member = input_shape.serialization.get("payload")
        for name, member in input_shape.members.items():
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", name)
            if location == "uri":
                if wire_name in labels:
                    params[name] = labels[wire_name]
            elif location == "querystring":
                if wire_name in query:
                    values = query[wire_name]
                    params[name] = values if member.type_name == "list" else _scalar(member, values[-1], name)
            elif location == "header":
                if wire_name.lower() in request.headers:
                    params[name] = _scalar(member, request.headers[wire_name.lower()], name)
            elif location is None and name != payload_member:
                body_members[name] = member
        if payload_member:
            member = input_shape.members[payload_member]
            if member.type_name in ("blob", "string"):
                if request.body:
                    params[payload_member] = request.body
            elif request.body:
                params[payload_member] = _json_body(request.body)
        elif body_members and request.body:
            document = _json_body(request.body)
            if not isinstance(document, dict):
                raise ServiceError("SerializationException", "the request body is not a JSON object", status=400)
            for name, member in body_members.items():
                wire_name = member.serialization.get("name", name)
                if wire_name in document:
                    params[name] = document[wire_name]
        return parsed

    # --- validation ------------------------------------------------------------------------------------

    def validate_input(self, operation: str, params: Mapping[str, Any]) -> None:
        """Raise ValidationException (400) naming every member that breaks the model's constraints."""
        input_shape = self.model.operation_model(operation).input_shape
        message = self.validator.message(input_shape, params) if input_shape is not None else None
        if message:
            raise ServiceError("ValidationException", message)

    # --- responses -------------------------------------------------------------------------------------

    def response(self, operation: str, output: Mapping[str, Any]) -> HttpResponse:
        """Serialize ``output`` as the operation's output shape says, after checking it against the model.

        An output that breaks the model is a bug in the stand-in: it raises ServiceError
        InternalServerException (500) that says which member is wrong.
        """
        operation_model = self.model.operation_model(operation)
        shape = operation_model.output_shape
        status = int(operation_model.http.get("responseCode", 200))
        if shape is None:
            return HttpResponse(status, {"Content-Type": "application/json"}, b"{}")
        problems = self.problems(shape, output, "")
        if problems:
            raise ServiceError(
                "InternalServerException",
                f"the stand-in built a {shape.name} that breaks the model: " + "; ".join(problems),
            )
        headers = {"Content-Type": "application/json"}
        body: dict[str, Any] = {}
        payload_member = shape.serialization.get("payload")
        raw_body: bytes | None = None
        for name, member in shape.members.items():
            if output.get(name) is None:
                continue
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", name)
            if location == "header":
                headers[wire_name] = _header_value(member, output[name])
            elif location == "statusCode":
                status = int(output[name])
            elif name == payload_member:
                value = output[name]
                raw_body = value if isinstance(value, bytes) else json.dumps(self._to_wire(member, value)).encode()
            elif location is None:
                body[wire_name] = self._to_wire(member, output[name])
        return HttpResponse(status, headers, raw_body if raw_body is not None else json.dumps(body).encode())

    def _to_wire(self, shape: botocore.model.Shape, value: Any) -> Any:
        kind = shape.type_name
        if kind == "structure":
            return {
                member.serialization.get("name", name): self._to_wire(member, value[name])
                for name, member in shape.members.items()
                if value.get(name) is not None
            }
        if kind == "list":
            return [self._to_wire(shape.member, item) for item in value]
        if kind == "map":
            return {key: self._to_wire(shape.value, item) for key, item in value.items()}
        if kind == "timestamp":
            return epoch_seconds(value)
        if kind == "blob":
            return base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode()
        return value

    def error_response(self, error: ServiceError) -> HttpResponse:
        """``X-Amzn-ErrorType`` + ``{"message": ...}``, the status code from the model's error shape."""
        status = error.status
        if status is None:
            status = 400
            if error.code in self.model.shape_names:
                status = int(self.model.shape_for(error.code).metadata.get("error", {}).get("httpStatusCode", 400))
        body = json.dumps({"message": error.message}).encode()
        return HttpResponse(status, {"Content-Type": "application/json", "X-Amzn-ErrorType": error.code}, body)

    def error_status(self, code: str) -> int:
        """The HTTP status of an error shape in the model."""
        return int(self.model.shape_for(code).metadata["error"]["httpStatusCode"])


def epoch_seconds(value: dt.datetime | float) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ServiceError(
            "SerializationException", f"the request body is not valid JSON: {error}", status=400
        ) from None


def _scalar(shape: botocore.model.Shape, text: str, name: str) -> Any:
    """A query-string or header value as its shape's Python type (left as text when it does not parse:
    validation then reports it)."""
    if shape.type_name in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text
    if shape.type_name == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


def _header_value(shape: botocore.model.Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return dt.datetime.fromtimestamp(epoch_seconds(value), tz=dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return str(value)
