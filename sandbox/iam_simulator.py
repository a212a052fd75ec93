"""IAM's policy simulator, which moto lacks: a loopback proxy in front of moto's IAM.

``AWS_ENDPOINT_URL_IAM`` points at the proxy. It answers ``SimulatePrincipalPolicy`` itself, evaluating the
principal's real policies as moto holds them (inline and attached, for a role, a user with its groups, or a
group; the permissions boundary; trust policies play no part) with :mod:`sandbox.policy_evaluator`, and forwards
every other request to moto unchanged.

The answer follows IAM's current documentation: one EvaluationResult per action, whose EvalDecision is the most
restrictive over the resources, with one ResourceSpecificResult per resource ARN given (EvalResourceName at the
top is the ARN template of the action's resource type, or ``*``). ``result_form = "per-resource"`` switches to
the older form (one EvaluationResult per action and resource, EvalResourceName the resource ARN), so that a
caller can be tested against both.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.model
from botocore.exceptions import ClientError

from . import TEST_REGION
from .http_server import LoopbackHttpServer
from .policy_evaluator import (
    ALLOWED,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    Decision,
    MatchedStatement,
    PolicySource,
    Request,
    UnsupportedPolicyError,
    evaluate,
)
from .rest_json import HttpRequest, HttpResponse, ShapeValidator, load_service_model
from .sessions import stand_in_client

IAM_XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"
#: Seconds to wait for moto when forwarding a request.
FORWARD_TIMEOUT_SECONDS = 30
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "proxy-connection"}
#: ARN templates of the resource types of the actions this project simulates (IAM reports them at the top).
RESOURCE_TEMPLATES = {
    "s3:getobject": "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
    "s3:putobject": "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
    "s3:deleteobject": "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
    "s3:deleteobjectversion": "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
    "s3:getobjectversion": "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
    "s3:listbucket": "arn:${Partition}:s3:::${BucketName}",
    "s3:listbucketversions": "arn:${Partition}:s3:::${BucketName}",
    "kms:decrypt": "arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}",
    "kms:generatedatakey": "arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}",
    "kms:encrypt": "arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}",
}
_DECISION_ORDER = {EXPLICIT_DENY: 0, IMPLICIT_DENY: 1, ALLOWED: 2}


class IamError(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class Simulation:
    """One SimulatePrincipalPolicy request as the proxy understood it (``IamSimulator.simulations``)."""

    policy_source_arn: str
    action_names: list[str]
    resource_arns: list[str]
    context: dict[str, list[str]]
    params: dict[str, Any]


class IamSimulator:
    """The proxy. ``start()`` serves it on 127.0.0.1 and ``port`` (0: a free port); ``stop()`` ends it.

    Records ``simulations`` (every SimulatePrincipalPolicy understood) and ``forwarded`` (the Action of every
    request passed to moto). ``inject_error(action, code, status, times)`` makes the next calls of an IAM action
    (SimulatePrincipalPolicy or any forwarded one) answer that error, for example AccessDenied 403.
    """

    def __init__(self, moto_endpoint: str, *, region: str = TEST_REGION, port: int = 0) -> None:
        self.moto_endpoint = moto_endpoint
        self.port = port
        self.region = region
        self.model = load_service_model("iam")
        self.validator = ShapeValidator(self.model)
        self.result_form = "per-action"
        self.simulations: list[Simulation] = []
        self.forwarded: list[str] = []
        self._injected: dict[str, list[tuple[str, int, str | None]]] = {}
        self._lock = threading.Lock()
        self._server: LoopbackHttpServer | None = None

    def start(self) -> str:
        self._server = LoopbackHttpServer(self._handle, self.port)
        return self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the IAM simulator proxy is not started")
        return self._server.url

    def reset(self) -> None:
        """Forget records, injected errors and the result form (the ``aws_env`` fixture calls it per test)."""
        with self._lock:
            self.simulations.clear()
            self.forwarded.clear()
            self._injected.clear()
            self.result_form = "per-action"

    def inject_error(
        self, action: str, code: str, status: int = 403, times: int = 1, message: str | None = None
    ) -> None:
        with self._lock:
            self._injected.setdefault(action, []).extend([(code, status, message)] * times)

    # --- HTTP ------------------------------------------------------------------------------------------

    def _handle(self, request: HttpRequest) -> HttpResponse:
        form = urllib.parse.parse_qs(request.query, keep_blank_values=True)
        if request.method == "POST" and "x-www-form-urlencoded" in request.headers.get("content-type", ""):
            for key, values in urllib.parse.parse_qs(request.body.decode(), keep_blank_values=True).items():
                form.setdefault(key, []).extend(values)
        params = {key: values[-1] for key, values in form.items()}
        action = params.get("Action", "")
        with self._lock:
            injected = self._injected.get(action)
            error = injected.pop(0) if injected else None
        if error is not None:
            code, status, message = error
            return _error_response(IamError(code, message or f"{code} injected by the test", status))
        if action != "SimulatePrincipalPolicy":
            with self._lock:
                self.forwarded.append(action)
            return self._forward(request)
        try:
            return self._simulate(params)
        except IamError as failure:
            return _error_response(failure)

    def _forward(self, request: HttpRequest) -> HttpResponse:
        target = urllib.parse.urlsplit(self.moto_endpoint)
        connection = http.client.HTTPConnection(
            target.hostname or "127.0.0.1", target.port, timeout=FORWARD_TIMEOUT_SECONDS
        )
        try:
            headers = {name: value for name, value in request.headers.items() if name not in _HOP_BY_HOP}
            path = request.path + (f"?{request.query}" if request.query else "")
            connection.request(request.method, path, body=request.body or None, headers=headers)
            response = connection.getresponse()
            body = response.read()
            out_headers = {name: value for name, value in response.getheaders() if name.lower() not in _HOP_BY_HOP}
            return HttpResponse(response.status, out_headers, body)
        finally:
            connection.close()

    # --- SimulatePrincipalPolicy -----------------------------------------------------------------------

    def _simulate(self, params: Mapping[str, str]) -> HttpResponse:
        operation = self.model.operation_model("SimulatePrincipalPolicy")
        data = parse_query(operation.input_shape, params, "")
        message = self.validator.message(operation.input_shape, data)
        if message:
            raise IamError("ValidationError", message, 400)
        source_arn = data["PolicySourceArn"]
        context = {
            entry["ContextKeyName"]: list(entry.get("ContextKeyValues", []))
            for entry in data.get("ContextEntries", [])
            if entry.get("ContextKeyName")
        }
        resources = data.get("ResourceArns") or ["*"]
        with self._lock:
            self.simulations.append(Simulation(source_arn, list(data["ActionNames"]), list(resources), context, data))
        sources, boundaries = principal_policies(stand_in_client("iam", self.moto_endpoint, self.region), source_arn)
        sources += [
            PolicySource.parse(f"PolicyInputList.{i}", "none", text)
            for i, text in enumerate(data.get("PolicyInputList", []), start=1)
        ]
        if data.get("PermissionsBoundaryPolicyInputList"):
            boundaries = [
                PolicySource.parse(f"PermissionsBoundaryPolicyInputList.{i}", "none", text)
                for i, text in enumerate(data["PermissionsBoundaryPolicyInputList"], start=1)
            ]
        resource_policies = (
            [PolicySource.parse("ResourcePolicy", "resource", data["ResourcePolicy"])]
            if data.get("ResourcePolicy")
            else []
        )
        caller = data.get("CallerArn") or source_arn
        results: list[dict[str, Any]] = []
        for action in data["ActionNames"]:
            decisions = []
            for resource in resources:
                try:
                    decision = evaluate(
                        sources,
                        Request(action, resource, context, {"AWS": caller}),
                        resource_policies=resource_policies,
                        boundaries=boundaries,
                    )
                except UnsupportedPolicyError as error:
                    raise IamError("PolicyEvaluation", str(error), 500) from None
                decisions.append((resource, decision))
            results += self._results(action, decisions, explicit_resources=data.get("ResourceArns") is not None)
        max_items = int(data.get("MaxItems") or 100)
        start = int(data.get("Marker") or 0)
        page = results[start : start + max_items]
        output: dict[str, Any] = {"EvaluationResults": page, "IsTruncated": start + max_items < len(results)}
        if output["IsTruncated"]:
            output["Marker"] = str(start + max_items)
        return _query_response(self.model, "SimulatePrincipalPolicy", output)

    def _results(
        self, action: str, decisions: list[tuple[str, Decision]], *, explicit_resources: bool
    ) -> list[dict[str, Any]]:
        def specific(resource: str, decision: Decision) -> dict[str, Any]:
            return {
                "EvalResourceName": resource,
                "EvalResourceDecision": decision.decision,
                "MatchedStatements": [_statement(m) for m in decision.matched],
                "MissingContextValues": sorted(decision.missing_context),
            }

        if self.result_form == "per-resource":
            return [
                {
                    "EvalActionName": action,
                    "EvalResourceName": resource,
                    "EvalDecision": decision.decision,
                    "MatchedStatements": [_statement(m) for m in decision.matched],
                    "MissingContextValues": sorted(decision.missing_context),
                    **({"ResourceSpecificResults": [specific(resource, decision)]} if explicit_resources else {}),
                }
                for resource, decision in decisions
            ]
        overall = min((d.decision for _, d in decisions), key=_DECISION_ORDER.__getitem__)
        matched: list[dict[str, Any]] = []
        for _, decision in decisions:
            if decision.decision == overall:
                matched += [s for s in map(_statement, decision.matched) if s not in matched]
        missing = sorted(set().union(*(d.missing_context for _, d in decisions)))
        result: dict[str, Any] = {
            "EvalActionName": action,
            "EvalResourceName": RESOURCE_TEMPLATES.get(action.lower(), "*") if explicit_resources else "*",
            "EvalDecision": overall,
            "MatchedStatements": matched,
            "MissingContextValues": missing,
        }
        if explicit_resources:
            result["ResourceSpecificResults"] = [specific(resource, decision) for resource, decision in decisions]
        return [result]


def principal_policies(iam: Any, arn: str) -> tuple[list[PolicySource], list[PolicySource]]:
    """The identity policies and permissions boundary of a role, user (with its groups) or group, from ``iam``."""
    resource = arn.split(":", 5)[-1] if arn.count(":") >= 5 else ""
    kind, _, rest = resource.partition("/")
    name = rest.rsplit("/", 1)[-1]
    try:
        if kind == "role":
            entity = iam.get_role(RoleName=name)["Role"]
            sources = _inline(iam, "role", name) + _attached(iam, "role", name)
        elif kind == "user":
            entity = iam.get_user(UserName=name)["User"]
            sources = _inline(iam, "user", name) + _attached(iam, "user", name)
            for group in iam.list_groups_for_user(UserName=name)["Groups"]:
                sources += _inline(iam, "group", group["GroupName"]) + _attached(iam, "group", group["GroupName"])
        elif kind == "group":
            entity = iam.get_group(GroupName=name)["Group"]
            sources = _inline(iam, "group", name) + _attached(iam, "group", name)
        else:
            raise IamError("InvalidInput", f"PolicySourceArn {arn} is not the ARN of a user, group or role", 400)
        boundary_arn = (entity.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        boundaries = [_managed(iam, boundary_arn)] if boundary_arn else []
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchEntity":
            raise IamError("NoSuchEntity", f"The {kind} with name {name} cannot be found.", 404) from None
        raise
    return sources, boundaries


def _inline(iam: Any, kind: str, name: str) -> list[PolicySource]:
    key = {f"{kind.capitalize()}Name": name}
    names = getattr(iam, f"list_{kind}_policies")(**key)["PolicyNames"]
    return [
        PolicySource.parse(policy, kind, getattr(iam, f"get_{kind}_policy")(**key, PolicyName=policy)["PolicyDocument"])
        for policy in names
    ]


def _attached(iam: Any, kind: str, name: str) -> list[PolicySource]:
    attached = getattr(iam, f"list_attached_{kind}_policies")(**{f"{kind.capitalize()}Name": name})
    return [_managed(iam, policy["PolicyArn"]) for policy in attached["AttachedPolicies"]]


def _managed(iam: Any, arn: str) -> PolicySource:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    kind = "aws-managed" if arn.startswith("arn:aws:iam::aws:policy/") else "user-managed"
    return PolicySource.parse(arn, kind, document)


def _statement(matched: MatchedStatement) -> dict[str, Any]:
    return {"SourcePolicyId": matched.source.policy_id, "SourcePolicyType": matched.source.policy_type}


def parse_query(shape: botocore.model.Shape, params: Mapping[str, str], prefix: str) -> Any:
    """A query-protocol request's members (``Name``, ``Name.member.N``, ``Name.member.N.Sub``) as Python values."""
    if shape.type_name == "structure":
        value: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = f"{prefix}{member.serialization.get('name', name)}"
            if member.type_name in ("structure", "list"):
                parsed = parse_query(member, params, f"{key}.")
                if parsed:
                    value[name] = parsed
            elif key in params:
                value[name] = _scalar(member, params[key])
        return value
    if shape.type_name == "list":
        indexes = sorted(
            {int(key[len(prefix) + 7 :].split(".", 1)[0]) for key in params if key.startswith(f"{prefix}member.")}
        )
        member = shape.member
        if member.type_name == "structure":
            return [parse_query(member, params, f"{prefix}member.{index}.") for index in indexes]
        return [_scalar(member, params[f"{prefix}member.{index}"]) for index in indexes]
    raise ValueError(f"unexpected shape {shape.name}")


def _scalar(shape: botocore.model.Shape, text: str) -> Any:
    if shape.type_name in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text
    if shape.type_name == "boolean":
        return text.lower() == "true"
    return text


def _to_xml(parent: ET.Element, shape: botocore.model.Shape, value: Any) -> None:
    kind = shape.type_name
    if kind == "structure":
        for name, member in shape.members.items():
            if isinstance(value, Mapping) and value.get(name) is not None:
                _to_xml(ET.SubElement(parent, member.serialization.get("name", name)), member, value[name])
    elif kind == "list":
        for item in value:
            _to_xml(ET.SubElement(parent, "member"), shape.member, item)
    elif kind == "map":
        for key, item in value.items():
            entry = ET.SubElement(parent, "entry")
            ET.SubElement(entry, "key").text = str(key)
            _to_xml(ET.SubElement(entry, "value"), shape.value, item)
    elif kind == "boolean":
        parent.text = "true" if value else "false"
    else:
        parent.text = str(value)


def _query_response(model: botocore.model.ServiceModel, operation: str, output: Mapping[str, Any]) -> HttpResponse:
    operation_model = model.operation_model(operation)
    root = ET.Element(f"{operation}Response", xmlns=IAM_XMLNS)
    wrapper = ET.SubElement(root, operation_model.output_shape.serialization.get("resultWrapper", f"{operation}Result"))
    _to_xml(wrapper, operation_model.output_shape, output)
    metadata = ET.SubElement(root, "ResponseMetadata")
    ET.SubElement(metadata, "RequestId").text = "00000000-0000-4000-8000-000000000001"
    return HttpResponse(200, {"Content-Type": "text/xml"}, ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _error_response(error: IamError) -> HttpResponse:
    root = ET.Element("ErrorResponse", xmlns=IAM_XMLNS)
    detail = ET.SubElement(root, "Error")
    ET.SubElement(detail, "Type").text = "Sender" if error.status < 500 else "Receiver"
    ET.SubElement(detail, "Code").text = error.code
    ET.SubElement(detail, "Message").text = error.message
    ET.SubElement(root, "RequestId").text = "00000000-0000-4000-8000-000000000001"
    return HttpResponse(error.status, {"Content-Type": "text/xml"}, ET.tostring(root, encoding="utf-8"))
