"""A stand-in DICOMweb authorizer function in moto: what ``ahictl verify``'s authorizer checks read (Lambda GetPolicy,
the function's existence), without the real function's code."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

#: Refuses every token: the checks never invoke it, they read its resource policy.
HANDLER = "def handle(event, context):\n    return {'isTokenValid': False}\n"


def create_authorizer_function(iam: Any, lambda_client: Any, function_name: str) -> str:
    """Create the function (with an execution role that only Lambda may assume) and return its ARN."""
    role_arn = iam.create_role(
        RoleName=f"{function_name}-exec",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", HANDLER)
    return str(
        lambda_client.create_function(
            FunctionName=function_name,
            Runtime="python3.12",
            Role=role_arn,
            Handler="handler.handle",
            Code={"ZipFile": code.getvalue()},
        )["FunctionArn"]
    )
