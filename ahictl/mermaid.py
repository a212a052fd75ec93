"""Mermaid diagrams of the offline plan.

:func:`render_architecture` draws the architecture view (:mod:`ahictl.architecture`): components as boxes
around the resources a person thinks about, bucket controls as labels, arrows for who reads, writes, assumes,
passes and encrypts what, and where logs and events flow; dotted arrows for encryption; protected resources
with a thick border; a supporting component drawn as one node has a double-edged box. Its overview is the
default of ``ahictl plan --format mermaid`` and the README's diagram; ``--detail <component>`` draws one
supporting component in full.

:func:`render_mermaid` draws every resource (``--detail resources``). Components (``healthimaging:index:*``) are boxes (subgraphs) around the resources they create;
every other resource is a node labelled with its short type and its name. An arrow ``A -->|bucket| B``
means that A's input ``bucket`` comes from B (a bucket policy from its bucket, the import role's trust
policy from the data store, the bucket encryption from the key). Protected resources (``protect``) have
a thick border. Providers are left out: every resource uses the explicit ``aws`` or ``aws-native`` provider.
"""

from __future__ import annotations

import re
from typing import Any

from .architecture import Architecture, Node

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def _short_type(token: str) -> str:
    """``aws:s3/bucketPolicy:BucketPolicy`` -> ``s3 BucketPolicy``; ``aws-native:healthimaging:Datastore``
    -> ``healthimaging Datastore``."""
    parts = token.split(":")
    if len(parts) != 3:
        return token
    module = parts[1].split("/", 1)[0]
    return f"{module} {parts[2]}"


def node_id(resource: dict[str, Any]) -> str:
    """A Mermaid identifier that is stable across runs: built from the type and the name."""
    prefix = "c" if not resource["custom"] else "r"
    return f"{prefix}_{_UNSAFE.sub('_', _short_type(resource['type']))}__{_UNSAFE.sub('_', resource['name'])}"


def _label(text: str) -> str:
    return text.replace('"', "#quot;")


#: Characters Mermaid reads as syntax in an arrow's label unless the label is quoted.
_EDGE_LABEL_SYNTAX = re.compile(r"[()\[\]{}|<>]")


def _edge_label(text: str) -> str:
    """An arrow's label: quoted when it holds brackets or pipes ("reads (origin access control)")."""
    label = _label(text)
    return f'"{label}"' if _EDGE_LABEL_SYNTAX.search(label) else label


def render_mermaid(plan: dict[str, Any]) -> str:
    """The plan as a Mermaid ``flowchart`` (text, ending in a newline)."""
    resources = [r for r in plan["resources"] if not r["type"].startswith("pulumi:providers:")]
    by_urn = {r["urn"]: r for r in resources}
    children: dict[str, list[dict[str, Any]]] = {}
    roots: list[dict[str, Any]] = []
    for resource in resources:
        if resource["parentUrn"] in by_urn:
            children.setdefault(resource["parentUrn"], []).append(resource)
        else:
            roots.append(resource)

    lines = ["flowchart LR"]

    def emit(items: list[dict[str, Any]], depth: int) -> None:
        indent = "  " * depth
        for item in items:
            ident = node_id(item)
            if not item["custom"]:
                title = _label(f"{item['name']} ({item['type'].rsplit(':', 1)[-1]})")
                lines.append(f'{indent}subgraph {ident}["{title}"]')
                emit(children.get(item["urn"], []), depth + 1)
                lines.append(f"{indent}end")
            else:
                lines.append(f'{indent}{ident}["{_label(_short_type(item["type"]))}<br/>{_label(item["name"])}"]')
                emit(children.get(item["urn"], []), depth)

    emit(roots, 1)

    edges: dict[tuple[str, str], set[str]] = {}
    for resource in resources:
        for key, urns in resource.get("propertyDependencies", {}).items():
            for urn in urns:
                target = by_urn.get(urn)
                if target is None or target["urn"] == resource["urn"]:
                    continue
                edges.setdefault((node_id(resource), node_id(target)), set()).add(key)
    for (source, target), keys in sorted(edges.items()):
        lines.append(f"  {source} -->|{', '.join(sorted(keys))}| {target}")

    protected = sorted(node_id(r) for r in resources if r["custom"] and r["protect"])
    if protected:
        lines.append("  classDef protected stroke-width:3px")
        lines.append(f"  class {','.join(protected)} protected")
    return "\n".join(lines) + "\n"


#: Node shapes by icon (Mermaid flowchart syntax); others are rectangles.
_SHAPES = {
    "bucket": ('[("', '")]'),
    "datastore": ('[("', '")]'),
    "table": ('[("', '")]'),
    "persona": ('(["', '"])'),
    "user": ('(["', '"])'),
    "key": ('{{"', '"}}'),
}


#: The shape of a node that stands for a whole component (drawn in full by its own diagram).
_COMPONENT_SHAPE = ('[["', '"]]')


def _node_line(node: Node, indent: str) -> str:
    opening, closing = _COMPONENT_SHAPE if node.detail else _SHAPES.get(node.icon, ('["', '"]'))
    return f"{indent}{node.id}{opening}{'<br/>'.join(_label(line) for line in node.lines)}{closing}"


def render_architecture(view: Architecture) -> str:
    """The architecture view as a Mermaid ``flowchart`` (text, ending in a newline)."""
    lines = ["flowchart LR"]

    def emit(group_id: str, depth: int) -> None:
        indent = "  " * depth
        for node in view.nodes:
            if node.group == group_id:
                lines.append(_node_line(node, indent))
        for group in view.groups:
            if group.parent == group_id:
                lines.append(f'{indent}subgraph {group.id}["{_label(group.title)}"]')
                emit(group.id, depth + 1)
                lines.append(f"{indent}end")

    emit("", 1)
    for edge in view.edges:
        arrow = "-.->" if edge.dotted else "-->"
        lines.append(f"  {edge.source} {arrow}|{_edge_label(edge.label)}| {edge.target}")
    protected = sorted(node.id for node in view.nodes if node.protected)
    if protected:
        lines.append("  classDef protected stroke-width:3px")
        lines.append(f"  class {','.join(protected)} protected")
    return "\n".join(lines) + "\n"
