"""Documents (policies, event patterns) that name resources the same program creates, rendered as JSON once known."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi


def json_when_known(build: Callable[..., Any], /, **inputs: pulumi.Input[Any]) -> pulumi.Output[str]:
    """``json.dumps(build(**inputs))`` once every input is known: a policy document or an event pattern that names
    resources the same program creates. Plain values may stand among the inputs."""

    def render(values: Any) -> str:
        return json.dumps(build(**values))

    return pulumi.Output.all(**inputs).apply(render)
