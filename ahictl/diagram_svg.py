"""A picture of the architecture view (SVG or PNG) with AWS service icons, for slides and reviews.

Drawn by the ``diagrams`` package (AWS icons, laid out by Graphviz): an optional extra, not needed for anything
else. ``pip install -r requirements-diagrams.txt`` installs the package; Graphviz's ``dot`` comes from the
system (Debian: ``apt-get install graphviz``). :func:`missing_requirements` says what is missing.

The SVG is self-contained: Graphviz refers to the icons by their paths inside the installed package, and
:func:`render_picture` embeds them as ``data:`` URIs, so the file shows the same on any machine.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .architecture import Architecture, Group

#: Icon of a node (:attr:`ahictl.architecture.Node.icon`) -> the ``diagrams`` class that draws it.
ICONS: dict[str, str] = {
    "bucket": "diagrams.aws.storage.SimpleStorageServiceS3Bucket",
    "key": "diagrams.aws.security.KeyManagementService",
    "datastore": "diagrams.aws.general.GenericDatabase",  # the icon set has no HealthImaging icon
    "role": "diagrams.aws.security.IdentityAndAccessManagementIamRole",
    "policy": "diagrams.aws.security.IdentityAndAccessManagementIamPermissions",
    "persona": "diagrams.aws.general.Users",
    "group": "diagrams.aws.general.Users",
    "user": "diagrams.aws.general.User",
    "permission-set": "diagrams.aws.security.IdentityAndAccessManagementIamPermissions",
    "event-rule": "diagrams.aws.integration.EventbridgeRule",
    "schedule": "diagrams.aws.integration.EventbridgeScheduler",
    "function": "diagrams.aws.compute.LambdaFunction",
    "topic": "diagrams.aws.integration.SimpleNotificationServiceSnsTopic",
    "queue": "diagrams.aws.integration.SimpleQueueServiceSqsQueue",
    "table": "diagrams.aws.database.DynamodbTable",
    "trail": "diagrams.aws.management.Cloudtrail",
    "log-group": "diagrams.aws.management.CloudwatchLogs",
    "alarm": "diagrams.aws.management.CloudwatchAlarm",
    "distribution": "diagrams.aws.network.CloudFront",
    "user-pool": "diagrams.aws.security.Cognito",
}
#: Icon of anything else (the "other resources" node of a component, a type with an icon missing above).
DEFAULT_ICON = "diagrams.aws.general.General"
FORMATS = ("svg", "png")
_IMAGE_REFERENCE = re.compile(r'(xlink:href|href)="([^"]+\.png)"')


def missing_requirements() -> list[str]:
    """What drawing a picture needs and this machine lacks, each with how to install it (empty: nothing)."""
    missing = []
    if importlib.util.find_spec("diagrams") is None:
        missing.append("the Python package diagrams (venv/bin/pip install -r requirements-diagrams.txt)")
    if shutil.which("dot") is None:
        missing.append("Graphviz's dot (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)")
    return missing


def _icon_class(icon: str) -> Any:
    module_name, _, class_name = ICONS.get(icon, DEFAULT_ICON).rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)


def render_picture(view: Architecture, fmt: str) -> bytes:
    """The architecture view drawn as ``svg`` (self-contained) or ``png``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown picture format {fmt!r}; choose one of {', '.join(FORMATS)}")
    missing = missing_requirements()
    if missing:
        raise RuntimeError("drawing a picture needs " + " and ".join(missing))
    from diagrams import Cluster, Diagram, Edge

    with tempfile.TemporaryDirectory(prefix="ahictl-diagram-") as temp:
        path = Path(temp) / "architecture"
        drawn: dict[str, Any] = {}
        with Diagram(
            f"Stack {view.stack}: architecture",
            filename=str(path),
            outformat=fmt,
            show=False,
            direction="LR",
            graph_attr={"fontsize": "20", "pad": "1.0", "splines": "spline", "nodesep": "0.5", "ranksep": "1.2"},
            node_attr={"fontsize": "11"},
            edge_attr={"fontsize": "10"},
        ):

            def draw(group_id: str) -> None:
                for node in view.nodes:
                    if node.group == group_id:
                        drawn[node.id] = _icon_class(node.icon)("\n".join(node.lines))
                for group in view.groups:
                    if group.parent == group_id:
                        with Cluster(group.title, graph_attr=_cluster_attributes(group)):
                            draw(group.id)

            draw("")
            for edge in view.edges:
                style = "dotted" if edge.dotted else "solid"
                drawn[edge.source] >> Edge(label=edge.label, style=style) >> drawn[edge.target]
        picture = path.with_suffix(f".{fmt}").read_bytes()
    return _embed_icons(picture) if fmt == "svg" else picture


def _cluster_attributes(group: Group) -> dict[str, str]:
    return {"fontsize": "14", "tooltip": group.type}


def _embed_icons(svg: bytes) -> bytes:
    """Replace references to icon files of the installed ``diagrams`` package by ``data:`` URIs."""
    spec = importlib.util.find_spec("diagrams")
    assert spec is not None
    assert spec.origin is not None
    icon_root = Path(spec.origin).resolve().parent.parent / "resources"

    def inline(match: re.Match[str]) -> str:
        icon = Path(match.group(2)).resolve()
        if not icon.is_file() or icon_root not in icon.parents:
            return match.group(0)
        encoded = base64.b64encode(icon.read_bytes()).decode("ascii")
        return f'{match.group(1)}="data:image/png;base64,{encoded}"'

    return _IMAGE_REFERENCE.sub(inline, svg.decode("utf-8")).encode("utf-8")
