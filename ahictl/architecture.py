"""The architecture view of a plan: the components and the resources a person thinks about, and how they relate.

The full resource graph (:func:`ahictl.mermaid.render_mermaid`) has a node for every bucket setting and policy
attachment. This view folds those into the node they configure and keeps the relationships that matter:

- **Nodes**: buckets, keys, the data store, roles, personas, topics, queues, functions, rules, trails, log
  groups, tables, alarms (``architecture_table.SHAPES``). A bucket's controls become a short label on the bucket ("BPA,
  SSE-KMS, versioned, TLS-only, logged"); a key's alias and key policy a label on the key.
- **Routes**: a group, role, permission set or user attached to a persona's policy is folded into that persona
  ("admin persona: IAM group, IAM role").
- **Edges**: read from the plan's references (``propertyDependencies``): who reads and writes which bucket and
  who passes which role (from the identity policies' statements), who assumes which role (trust policies), what
  encrypts what, where events, logs and messages flow.
- **Components** (``healthimaging:index:*``) are groups around their nodes; a component nested in another with
  a single node (a ``SecureBucket`` in the bucket pair) is drawn as that node.
- **Absorbed**: what only serves one node is folded into it (``Shape.absorbs``): the data store created by a
  function (creation-time options) is one node, with the creator's function, role, key and log group in it.

A resource type missing from the table is never dropped: it is folded into its component's "other resources"
node, which names its type, and its references are drawn from there. Adding a type is one entry in the table,
:data:`ahictl.architecture_table.SHAPES` (or ``COMPONENT_SHAPES`` for a type that means something else inside
one component).

The view is a plain data structure (:class:`Architecture`); :mod:`ahictl.mermaid` and :mod:`ahictl.diagram_svg`
draw it. Two views are cut from it:

- the **overview** (:func:`overview`): the guide's architecture (buckets, keys, data store, import role, personas)
  in full, and each supporting component (``architecture_table.SUPPORTING_COMPONENTS``: import alerts, audit
  trail, import on upload, the team viewer, the DICOMweb authorizer) as one node that lists what it holds, with the arrows between it and the rest;
- a **component in full** (:func:`component_detail`): one supporting component's nodes and arrows, with the nodes
  outside it that it has arrows to or from (the other supporting components as one node each).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .architecture_table import (
    COMPONENT_SHAPES,
    CONVENTIONAL_LOG_GROUPS,
    NOT_DRAWN,
    SHAPES,
    SUPPORTING_COMPONENTS,
    Reference,
    Shape,
    as_list,
    statements,
)

Resource = dict[str, Any]
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


# --- the view ----------------------------------------------------------------------------------------------


@dataclass
class Node:
    """One box of the view: a resource a person thinks about, with the resources folded into it."""

    id: str
    icon: str
    title: str
    name: str
    tags: list[str]
    group: str  # id of the enclosing group ("" at the top level)
    protected: bool = False
    resources: list[str] = field(default_factory=list)  # URNs drawn as this node
    detail: str = ""  # a supporting component drawn as one node: the ``--detail`` that draws it in full

    @property
    def lines(self) -> list[str]:
        """The label's lines: title, name, tags."""
        lines = [self.title]
        if self.name and self.name.lower() not in self.title.lower():
            lines.append(self.name)
        lines.extend(wrap(self.tags))
        return lines


@dataclass
class Group:
    """A component: its name and type, and the group it sits in."""

    id: str
    name: str
    type: str
    parent: str  # "" at the top level

    @property
    def title(self) -> str:
        return f"{self.name} ({self.type.rsplit(':', 1)[-1]})"


@dataclass
class Edge:
    source: str
    target: str
    labels: list[str]
    dotted: bool = False

    @property
    def label(self) -> str:
        return ", ".join(self.labels)


@dataclass
class Architecture:
    stack: str
    groups: list[Group]
    nodes: list[Node]
    edges: list[Edge]


def wrap(tags: Sequence[str], width: int = 36) -> list[str]:
    """Tags joined with ", " into lines of about ``width`` characters."""
    lines: list[str] = []
    for tag in tags:
        if lines and len(lines[-1]) + 2 + len(tag) <= width:
            lines[-1] += f", {tag}"
        else:
            lines.append(tag)
    return lines


def _ident(prefix: str, text: str) -> str:
    return f"{prefix}_{_UNSAFE.sub('_', text)}"


def _short_type(token: str) -> str:
    parts = token.split(":")
    if len(parts) != 3:
        return token
    return f"{parts[1].split('/', 1)[0]} {parts[2]}"


# --- identity policies: who may do what to which node --------------------------------------------------------

#: Actions named by their effect on the resource; others by their verb's prefix (:data:`_PREFIX_VERBS`).
_ACTION_VERBS = {
    "iam:PassRole": "passes",
    "sts:AssumeRole": "assumes",
    "medical-imaging:StartDICOMImportJob": "starts imports",
    "s3:ListBucket": "lists",
    "sns:Publish": "publishes",
    "sqs:SendMessage": "sends",
    "lambda:InvokeFunction": "invokes",
}
_PREFIX_VERBS = (
    ("Get", "reads"),
    ("List", "reads"),
    ("Search", "reads"),
    ("Describe", "reads"),
    ("Head", "reads"),
    ("Query", "reads"),
    ("Scan", "reads"),
    ("BatchGet", "reads"),
    ("Receive", "reads"),
    ("Put", "writes"),
    ("Store", "writes"),
    ("Upload", "writes"),
    ("Create", "writes"),
    ("BatchWrite", "writes"),
    ("Write", "writes"),
    ("Abort", "writes"),
    ("Send", "sends"),
    ("Publish", "publishes"),
    ("Start", "starts"),
    ("Invoke", "invokes"),
    ("Copy", "changes"),
    ("Update", "changes"),
    ("Tag", "changes"),
    ("Untag", "changes"),
    ("Delete", "deletes"),
)
#: Order of verbs in an edge label.
_VERB_ORDER = (
    "assumes",
    "passes",
    "starts imports",
    "starts",
    "invokes",
    "lists",
    "reads",
    "writes",
    "sends",
    "publishes",
    "changes",
    "deletes",
    "uses",
)
#: Services whose grants are not drawn: a KMS key's use is drawn once, as "encrypts", from what it encrypts.
_SERVICES_NOT_DRAWN = frozenset({"kms"})
#: ARN service -> the type modules of its resources, where they differ.
_ARN_SERVICE_MODULES = {
    "medical-imaging": ("healthimaging",),
    "events": ("cloudwatch", "scheduler"),
    "logs": ("cloudwatch",),
    "scheduler": ("scheduler",),
    "sso": ("ssoadmin",),
}


def _verb(action: str) -> str | None:
    service, _, name = action.partition(":")
    if service in _SERVICES_NOT_DRAWN:
        return None
    if action in _ACTION_VERBS:
        return _ACTION_VERBS[action]
    if name == "*" or not name:
        return "uses"
    for prefix, verb in _PREFIX_VERBS:
        if name.startswith(prefix):
            return verb
    return "uses"


#: Types drawn as a resource of another service: the creator's invocation is the data store it creates.
_DRAWN_AS_MODULE = {"aws:lambda/invocation:Invocation": ("aws", "healthimaging")}


def _type_modules(token: str) -> tuple[str, str]:
    """``aws:s3/bucket:Bucket`` -> (``aws``, ``s3``); ``aws-native:healthimaging:Datastore`` -> (..., ``healthimaging``)."""
    if token in _DRAWN_AS_MODULE:
        return _DRAWN_AS_MODULE[token]
    parts = token.split(":")
    return parts[0], parts[1].split("/", 1)[0] if len(parts) > 1 else ""


def _identifier_matches(resource_arn: str, identifier: str) -> bool:
    if identifier.startswith("arn:"):
        return resource_arn == identifier or resource_arn.startswith((identifier + "/", identifier + ":"))
    return (
        resource_arn == identifier
        or resource_arn.endswith((":" + identifier, "/" + identifier))
        or any(f"{left}{identifier}{right}" in resource_arn for left in ":/" for right in ":/")
    )


def _order(verbs: Iterable[str]) -> list[str]:
    found = set(verbs)
    if "lists" in found and found & {"reads", "writes"}:
        found.discard("lists")
    return sorted(found, key=lambda v: _VERB_ORDER.index(v) if v in _VERB_ORDER else len(_VERB_ORDER))


# --- building the view --------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, plan: Mapping[str, Any]) -> None:
        self.plan = plan
        self.resources: list[Resource] = [
            r for r in plan["resources"] if not str(r["type"]).startswith("pulumi:providers:")
        ]
        # A resource the program reads (the data store the creator function made) is drawn as the resource it
        # depends on (the creator's invocation): references to the read point there.
        read_as = {
            read["urn"]: next(u for u in read.get("dependsOn", []) if u in {r["urn"] for r in self.resources})
            for read in plan.get("reads", [])
            if any(u in {r["urn"] for r in self.resources} for u in read.get("dependsOn", []))
        }
        if read_as:
            self.resources = [
                {
                    **r,
                    "propertyDependencies": {
                        key: [read_as.get(u, u) for u in urns]
                        for key, urns in r.get("propertyDependencies", {}).items()
                    },
                }
                for r in self.resources
            ]
        self.by_urn: dict[str, Resource] = {r["urn"]: r for r in self.resources}
        self.pointer: dict[str, str] = {}  # urn -> urn of what it is folded into
        self.extra_tags: dict[str, list[tuple[int, str]]] = {}  # urn -> (order, tag) of folded resources
        self.host_names: dict[str, str] = {}  # urn -> a name given by a folded resource (a key's alias)
        self.others: dict[str, list[Resource]] = {}  # group id -> resources of unknown types
        self.identifiers: dict[str, set[str]] = {}  # urn -> names, IDs and ARNs it is known by

    # the components ------------------------------------------------------------------------------------
    def component_of(self, resource: Resource) -> Resource | None:
        parent = self.by_urn.get(resource["parentUrn"])
        while parent is not None and parent["custom"]:
            parent = self.by_urn.get(parent["parentUrn"])
        return parent

    def component_urn(self, resource: Resource) -> str:
        component = self.component_of(resource)
        return str(component["urn"]) if component else ""

    def shape(self, resource: Resource) -> Shape | None:
        component = self.component_of(resource)
        if component is not None:
            # The nearest enclosing component that gives the type a meaning of its own.
            ancestor: Resource | None = component
            while ancestor is not None:
                override = COMPONENT_SHAPES.get((ancestor["type"], resource["type"]))
                if override is not None:
                    return override
                ancestor = self.by_urn.get(ancestor["parentUrn"])
        return SHAPES.get(resource["type"])

    def local_name(self, resource: Resource) -> str:
        """The resource's name without the names of the components around it."""
        name = str(resource["name"])
        component = self.component_of(resource)
        while component is not None:
            prefix = f"{component['name']}-"
            if name.startswith(prefix):
                return name[len(prefix) :]
            component = self.component_of(component)
        return name

    # folding -------------------------------------------------------------------------------------------
    def find(self, urn: str) -> str:
        seen = set()
        while urn in self.pointer and urn not in seen:
            seen.add(urn)
            urn = self.pointer[urn]
        return urn

    def references(self, resource: Resource, key: str) -> list[str]:
        return [u for u in resource.get("propertyDependencies", {}).get(key, []) if u in self.by_urn]

    def fold_into_other(self, resource: Resource) -> None:
        """Fold a resource into its component's "other resources" node (or the stack's, outside components)."""
        component = self.component_of(resource)
        group = _ident("c", component["name"]) if component else ""
        self.others.setdefault(group, []).append(resource)
        self.pointer[resource["urn"]] = f"other:{group}"

    def fold(self) -> None:
        # A resource of a known node type is its own node until a join folds it into another; a folded type
        # goes into the node its host input names; an unknown type into its component's "other" node.
        for resource in self.resources:
            if not resource["custom"]:
                continue
            shape = self.shape(resource)
            if shape is None:
                self.fold_into_other(resource)
                continue
            if shape.is_node:
                continue
            host_key = next(
                (k for k in shape.host if any(self.by_urn[u]["custom"] for u in self.references(resource, k))), ""
            )
            if not host_key:  # nothing to fold into: shown, not dropped
                self.fold_into_other(resource)
                continue
            host = next(u for u in self.references(resource, host_key) if self.by_urn[u]["custom"])
            self.pointer[resource["urn"]] = host
            if shape.joins and shape.joins != host_key:
                for joined in self.references(resource, shape.joins):
                    joined_resource = self.by_urn[joined]
                    joined_shape = self.shape(joined_resource)
                    self.pointer[joined] = host
                    route = joined_shape.route(joined_resource["inputs"]) if joined_shape and joined_shape.route else ""
                    if route:
                        self.extra_tags.setdefault(host, []).append((_order_of(joined_resource["type"]), route))
            else:
                order = _order_of(resource["type"])
                self.extra_tags.setdefault(host, []).extend((order, tag) for tag in shape.tags(resource["inputs"]))
            if shape.names_host:
                name = next((resource["inputs"][k] for k in shape.names if resource["inputs"].get(k)), None)
                if isinstance(name, str):
                    self.host_names.setdefault(host, name)

    def absorb(self) -> None:
        """Fold into each node with ``absorbs`` inputs the resources those inputs refer to, with what only they use
        (:attr:`Shape.absorbs`): the data store's creator function, with its role, key and log group, into the data
        store it creates."""
        for resource in self.resources:
            shape = self.shape(resource)
            if not resource["custom"] or shape is None or not shape.absorbs or resource["urn"] in self.pointer:
                continue
            start = {self.find(u) for key in shape.absorbs for u in self.references(resource, key)}
            for urn in self.own_closure(resource, start):
                self.pointer[urn] = resource["urn"]

    def own_closure(self, absorber: Resource, start: set[str]) -> set[str]:
        """The nodes of ``start`` that only ``absorber`` refers to, and the nodes in ``absorber``'s component reached
        from them that nothing outside them refers to."""
        successors: dict[str, set[str]] = {}
        predecessors: dict[str, set[str]] = {}

        def link(source_urn: str, target_urn: str) -> None:
            source, target = self.find(source_urn), self.find(target_urn)
            if source != target and not source.startswith("other:") and not target.startswith("other:"):
                successors.setdefault(source, set()).add(target)
                predecessors.setdefault(target, set()).add(source)

        for resource in self.resources:
            if resource["custom"]:
                for key in resource.get("propertyDependencies", {}):
                    for target in self.references(resource, key):
                        if self.by_urn[target]["custom"]:
                            link(resource["urn"], target)
        for writer, log_group in self.conventional_logs():
            link(writer, log_group)
        component = self.component_urn(absorber)
        owner = absorber["urn"]
        absorbed = {
            urn for urn in start if urn in self.by_urn and urn != owner and predecessors.get(urn, set()) <= {owner}
        }
        grown = bool(absorbed)
        while grown:
            grown = False
            reached = set().union(*(successors.get(urn, set()) for urn in absorbed)) - absorbed - {owner}
            for candidate in sorted(reached):
                in_component = candidate in self.by_urn and self.component_urn(self.by_urn[candidate]) == component
                if in_component and predecessors.get(candidate, set()) <= absorbed:
                    absorbed.add(candidate)
                    grown = True
        return absorbed

    def collect_identifiers(self) -> None:
        for resource in self.resources:
            shape = self.shape(resource)
            ids = self.identifiers.setdefault(resource["urn"], set())
            for key in shape.names if shape else ("name",):
                value = resource["inputs"].get(key)
                if isinstance(value, str) and value:
                    ids.add(value)
            for key, urns in resource.get("propertyDependencies", {}).items():
                value = resource["inputs"].get(key)
                if len(urns) != 1 or urns[0] not in self.by_urn:
                    continue
                if isinstance(value, list) and len(value) == 1:
                    value = value[0]
                if isinstance(value, str) and value:
                    self.identifiers.setdefault(urns[0], set()).add(value)

    def conventional_logs(self) -> list[tuple[str, str]]:
        """(writer URN, log group URN) for the log groups AWS writes to by name (:data:`CONVENTIONAL_LOG_GROUPS`)."""
        found = []
        for log_group in (r for r in self.resources if r["type"] == "aws:cloudwatch/logGroup:LogGroup"):
            name = str(log_group["inputs"].get("name", ""))
            for prefix, writer_type in CONVENTIONAL_LOG_GROUPS.items():
                writer_name = name.removeprefix(prefix) if name.startswith(prefix) else None
                for writer in self.resources:
                    if writer_name and writer["type"] == writer_type and writer["inputs"].get("name") == writer_name:
                        found.append((writer["urn"], log_group["urn"]))
        return found

    # edges ---------------------------------------------------------------------------------------------
    def policy_grants(self, document: Any, candidates: list[str]) -> dict[str, set[str]]:
        """Node URN -> verbs, for the candidates that an Allow statement of ``document`` names."""
        grants: dict[str, set[str]] = {}
        for statement in statements(document):
            if statement.get("Effect") != "Allow":
                continue
            actions = [str(a) for a in as_list(statement.get("Action"))]
            for arn in (str(a) for a in as_list(statement.get("Resource"))):
                if arn == "*":
                    continue
                named = [c for c in candidates if any(_identifier_matches(arn, i) for i in self.identifiers.get(c, ()))]
                if not named:
                    service = arn.split(":")[2] if arn.count(":") >= 2 else ""
                    modules = _ARN_SERVICE_MODULES.get(service, (service,))
                    named = [c for c in candidates if _type_modules(self.by_urn[c]["type"])[1] in modules]
                    if len(named) != 1:
                        continue
                for candidate in named:
                    service_of_candidate = _type_modules(self.by_urn[candidate]["type"])[1]
                    for action in actions:
                        service = action.split(":", 1)[0]
                        modules = _ARN_SERVICE_MODULES.get(service, (service,))
                        if service_of_candidate not in modules and service not in ("iam", "sts"):
                            continue
                        verb = _verb(action)
                        if verb:
                            grants.setdefault(candidate, set()).add(verb)
        return grants

    def edges(self, node_ids: Mapping[str, str]) -> list[Edge]:
        found: dict[tuple[str, str, bool], list[str]] = {}

        def add(source_urn: str, target_urn: str, label: str, dotted: bool = False) -> None:
            source, target = node_ids[self.find(source_urn)], node_ids[self.find(target_urn)]
            if source == target:
                return
            labels = found.setdefault((source, target, dotted), [])
            if label not in labels:
                labels.append(label)

        for resource in self.resources:
            if not resource["custom"]:
                continue
            shape = self.shape(resource)
            skipped = set(shape.host) | {shape.joins} if shape else set()
            for key in sorted(resource.get("propertyDependencies", {})):
                references = self.references(resource, key)
                if not references or key in skipped:
                    continue
                if shape and key in shape.policies:
                    grants = self.policy_grants(resource["inputs"].get(key), references)
                    for target, verbs in grants.items():
                        for verb in _order(verbs):
                            add(resource["urn"], target, verb)
                    continue
                if shape and key in shape.trust:
                    for source in references:
                        add(source, resource["urn"], "assumes")
                    continue
                rule = shape.references.get(key, Reference(key)) if shape else Reference(key)
                if rule is NOT_DRAWN:
                    continue
                for target in references:
                    drawn = rule.to(self.by_urn[target]["type"])
                    if drawn.reverse:
                        add(target, resource["urn"], drawn.label, drawn.dotted)
                    else:
                        add(resource["urn"], target, drawn.label, drawn.dotted)
        for writer, log_group in self.conventional_logs():
            add(writer, log_group, "logs")
        return [
            Edge(source, target, _order(labels) if not dotted else labels, dotted)
            for (source, target, dotted), labels in sorted(found.items())
        ]

    # nodes and groups ----------------------------------------------------------------------------------
    def settle(self) -> None:
        """Fold anything whose chain of folds ends nowhere drawn (a cycle of joins) into its component's node."""
        for resource in self.resources:
            if resource["custom"] and resource["urn"] in self.pointer:
                end = self.find(resource["urn"])
                if not end.startswith("other:") and (end in self.pointer or not self.by_urn[end]["custom"]):
                    self.pointer.pop(resource["urn"])
                    self.fold_into_other(resource)

    def build(self) -> Architecture:
        self.fold()
        self.settle()
        self.absorb()
        self.collect_identifiers()
        components = [r for r in self.resources if not r["custom"]]
        nodes: dict[str, Node] = {}
        node_ids: dict[str, str] = {}
        for resource in self.resources:
            if not resource["custom"] or resource["urn"] in self.pointer:
                continue
            shape = self.shape(resource)
            assert shape is not None
            component = self.component_of(resource)
            group = _ident("c", component["name"]) if component else ""
            inputs = resource["inputs"]
            local = self.local_name(resource)
            name = (shape.named(inputs) if shape.named else "") or next(
                (str(inputs[k]) for k in shape.names if isinstance(inputs.get(k), str) and inputs[k]),
                self.host_names.get(resource["urn"], local),
            )
            folded = sorted(
                (
                    entry
                    for urn, extra in self.extra_tags.items()
                    if self.find(urn) == resource["urn"]
                    for entry in extra
                ),
                key=lambda entry: entry[0],
            )
            tags = shape.tags(inputs) + [tag for _order, tag in folded]
            if resource["protect"]:
                tags.append("protected")
            node = Node(
                id=_ident("n", resource["name"])
                if _ident("n", resource["name"]) not in nodes
                else _ident("n", f"{resource['name']}_{_short_type(resource['type'])}"),
                icon=shape.icon,
                title=shape.title(inputs, local) if shape.title else shape.noun,
                name=name,
                tags=_unique(tags),
                group=group,
                protected=bool(resource["protect"]),
            )
            nodes[node.id] = node
            node_ids[resource["urn"]] = node.id
        for group, members in sorted(self.others.items()):
            counts: dict[str, int] = {}
            for member in members:
                counts[_short_type(member["type"])] = counts.get(_short_type(member["type"]), 0) + 1
            node = Node(
                id=f"{group or 'stack'}__other",
                icon="other",
                title=f"{len(members)} more resource{'s' if len(members) != 1 else ''}",
                name="",
                tags=[f"{t} ×{n}" if n > 1 else t for t, n in sorted(counts.items())],
                group=group,
            )
            nodes[node.id] = node
            node_ids[f"other:{group}"] = node.id
        for resource in self.resources:
            if resource["custom"]:
                nodes[node_ids[self.find(resource["urn"])]].resources.append(resource["urn"])

        groups = [
            Group(
                id=_ident("c", c["name"]),
                name=str(c["name"]),
                type=str(c["type"]),
                parent=_ident("c", parent["name"]) if (parent := self.component_of(c)) else "",
            )
            for c in components
        ]
        groups, nodes = _collapse_single_node_groups(groups, nodes)
        edges = self.edges(node_ids)
        return Architecture(
            stack=str(self.plan.get("stack", "")), groups=groups, nodes=list(nodes.values()), edges=edges
        )


def _order_of(type_token: str) -> int:
    """Position of a type in :data:`SHAPES` (the order its tags appear in)."""
    order = list(SHAPES)
    return order.index(type_token) if type_token in order else len(order)


def _unique(items: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item and item not in seen:
            seen.append(item)
    return seen


def _collapse_single_node_groups(groups: list[Group], nodes: dict[str, Node]) -> tuple[list[Group], dict[str, Node]]:
    """A component inside another component that holds exactly one node and no components is drawn as that
    node, in the outer component (a ``SecureBucket`` is its bucket)."""
    kept: list[Group] = []
    parents = {g.id: g.parent for g in groups}
    for group in groups:
        members = [n for n in nodes.values() if n.group == group.id]
        has_children = any(g.parent == group.id for g in groups)
        if group.parent and len(members) == 1 and not has_children:
            members[0].group = group.parent
            members[0].title += f" ({group.type.rsplit(':', 1)[-1]})"
            continue
        kept.append(group)
    known = {g.id for g in kept}
    for node in nodes.values():
        while node.group and node.group not in known:
            node.group = parents.get(node.group, "")
    return kept, nodes


def architecture(plan: Mapping[str, Any]) -> Architecture:
    """The architecture view of a plan document (:func:`ahictl.plan.build_plan`)."""
    return _Builder(plan).build()


# --- the overview and the supporting components in full ------------------------------------------------------


class ComponentNotInPlanError(ValueError):
    """A supporting component's diagram was asked for, and the plan has no such component."""


def detail_names() -> list[str]:
    """The names of the supporting components' diagrams (``--detail``), in the order of the table."""
    return [supporting.detail for supporting in SUPPORTING_COMPONENTS.values()]


def overview(view: Architecture) -> Architecture:
    """The view with each supporting component drawn as one node."""
    return _collapsed(view, open_groups=set())


def component_detail(view: Architecture, detail: str) -> Architecture:
    """The supporting component named ``detail`` (one of :func:`detail_names`) in full, with the nodes it has arrows
    to or from and those arrows; the other supporting components are one node each."""
    types = [t for t, supporting in SUPPORTING_COMPONENTS.items() if supporting.detail == detail]
    if not types:
        raise ValueError(f"unknown component diagram {detail!r}; choose one of {', '.join(detail_names())}")
    opened = {g.id for g in view.groups if g.type == types[0]}
    if not opened:
        supporting = SUPPORTING_COMPONENTS[types[0]]
        raise ComponentNotInPlanError(
            f"stack {view.stack!r} has no {types[0].rsplit(':', 1)[-1]} component to draw (the stack key "
            f"{supporting.setting} switches it on); {supporting.how_to_switch_on}"
        )
    collapsed = _collapsed(view, open_groups=opened)
    inside_groups = {g.id for g in collapsed.groups if _within(g.id, opened, collapsed.groups)}
    inside = {n.id for n in collapsed.nodes if n.group in inside_groups}
    edges = [e for e in collapsed.edges if e.source in inside or e.target in inside]
    kept = inside | {e.source for e in edges} | {e.target for e in edges}
    nodes = [n for n in collapsed.nodes if n.id in kept]
    parents = {g.id: g.parent for g in collapsed.groups}
    used: set[str] = set()
    for node in nodes:
        group = node.group
        while group and group not in used:
            used.add(group)
            group = parents.get(group, "")
    groups = [g for g in collapsed.groups if g.id in used]
    return Architecture(stack=view.stack, groups=groups, nodes=nodes, edges=edges)


def _within(group_id: str, ancestors: set[str], groups: Sequence[Group]) -> bool:
    """Whether ``group_id`` is one of ``ancestors`` or inside one of them."""
    parents = {g.id: g.parent for g in groups}
    seen: set[str] = set()
    while group_id and group_id not in seen:
        if group_id in ancestors:
            return True
        seen.add(group_id)
        group_id = parents.get(group_id, "")
    return False


def _collapsed(view: Architecture, open_groups: set[str]) -> Architecture:
    """``view`` with each supporting component not in ``open_groups`` as one node (the outermost, when one is
    inside another), and the arrows that touch its nodes drawn from or to that node."""
    supporting = {g.id: g for g in view.groups if g.type in SUPPORTING_COMPONENTS and g.id not in open_groups}
    outermost = [g for g in supporting.values() if not _within(g.parent, set(supporting), view.groups)]
    representative: dict[str, str] = {}  # node id -> id of the node drawn for it
    component_nodes: dict[str, Node] = {}
    for group in outermost:
        members = [n for n in view.nodes if _within(n.group, {group.id}, view.groups)]
        table = SUPPORTING_COMPONENTS[group.type]
        counts: dict[str, int] = {}
        for member in sorted(members, key=lambda n: _icon_order(n.icon)):
            counts[member.title] = counts.get(member.title, 0) + 1
        component_nodes[group.id] = Node(
            id=group.id,
            icon=table.icon,
            title=table.noun,
            name=group.title,
            tags=[f"{title} ×{count}" if count > 1 else title for title, count in counts.items()]
            + ([f"{protected} protected"] if (protected := sum(m.protected for m in members)) else []),
            group=group.parent,
            resources=[urn for member in members for urn in member.resources],
            detail=table.detail,
        )
        representative.update((member.id, group.id) for member in members)
    hidden = {g.id for g in view.groups if _within(g.id, {g.id for g in outermost}, view.groups)}
    nodes = [n for n in view.nodes if n.id not in representative]
    nodes += [component_nodes[g.id] for g in outermost]
    labels: dict[tuple[str, str, bool], list[str]] = {}
    for edge in view.edges:
        source = representative.get(edge.source, edge.source)
        target = representative.get(edge.target, edge.target)
        if source == target:
            continue
        merged = labels.setdefault((source, target, edge.dotted), [])
        merged.extend(label for label in edge.labels if label not in merged)
        if "lists" in merged and {"reads", "writes"} & set(merged):
            merged.remove("lists")
    edges = [
        Edge(source, target, sorted(found, key=_label_order), dotted)
        for (source, target, dotted), found in sorted(labels.items())
    ]
    groups = [g for g in view.groups if g.id not in hidden]
    return Architecture(stack=view.stack, groups=groups, nodes=nodes, edges=edges)


def _icon_order(icon: str) -> int:
    """Position of the first type drawn with ``icon`` in :data:`SHAPES` (storage and keys first)."""
    icons = list(dict.fromkeys(shape.icon for shape in SHAPES.values()))
    return icons.index(icon) if icon in icons else len(icons)


def _label_order(label: str) -> tuple[int, str]:
    """Verbs in the order of :data:`_VERB_ORDER`, then other labels alphabetically."""
    return (_VERB_ORDER.index(label), "") if label in _VERB_ORDER else (len(_VERB_ORDER), label)
