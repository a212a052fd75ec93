"""``python -m sandbox``: the process of a detached sandbox (``python -m ahictl sandbox up --detach`` starts it after
its checks). Serves until SIGTERM (``python -m ahictl sandbox down``)."""

import argparse
import os
import sys
from pathlib import Path

from sandbox.runner import Options, SandboxError, UsageError, serve

parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
parser.add_argument("--stack", default="dev")
parser.add_argument("--dir", type=Path, default=Path(".sandbox"))
parser.add_argument("--port-base", type=int)
parser.add_argument("--project-dir", type=Path, default=Path("."))
parser.add_argument("--set", action="append", default=[], dest="settings")
args = parser.parse_args()
options = Options(
    stack=args.stack,
    directory=args.dir,
    port_base=args.port_base,
    project_dir=args.project_dir,
    settings=tuple(args.settings),
)
try:
    code = serve(options, out=sys.stdout, detached=True)
except (UsageError, SandboxError) as error:
    print(f"error: {error}", flush=True)
    code = 2 if isinstance(error, UsageError) else 1
sys.stdout.flush()
# Leave without interpreter teardown: the Pulumi SDK's event loops would print spurious messages when collected late.
os._exit(code)
