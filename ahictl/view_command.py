"""``python -m ahictl view``: the data store in the OHIF Viewer on this machine, signed with your AWS credentials.

Serves the viewer app and a signing DICOMweb proxy on 127.0.0.1 (:mod:`ahiops.viewer_server`), prints one line
``Viewer: <url>`` (the URL carries the run's secret) and runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from . import ops_common


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (1-65535)")
    return value


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ahiops.viewer_app import OHIF_PACKAGE, OHIF_VERSION

    parser = commands.add_parser(
        "view",
        help="open the data store's studies in the OHIF Viewer on this machine (signed with your AWS credentials)",
        description="Serve the OHIF Viewer and a DICOMweb proxy that signs the viewer's requests with your AWS "
        "credentials, on 127.0.0.1 only; print one line `Viewer: <url>` and open it in the default browser. "
        "The URL carries a secret made for this run: whoever has it can read the data store's images as you "
        "until the command stops (Ctrl-C). Exit 0 when stopped with Ctrl-C, 1 when AWS or the viewer app is not "
        "available, 2 for a usage error.",
    )
    ops_common.add_stack_arguments(parser, json_flag=False)
    parser.add_argument(
        "--port", type=_port, metavar="N", help="listen on 127.0.0.1:N (default: a free port chosen for this run)"
    )
    parser.add_argument("--study", metavar="STUDY_UID", help="open this study (default: the study list)")
    parser.add_argument(
        "--no-browser", action="store_true", help="only print the URL (default: also open it in the default browser)"
    )
    parser.add_argument(
        "--viewer-dir",
        type=Path,
        metavar="DIR",
        help=f"serve this unpacked OHIF Viewer build (default: {OHIF_PACKAGE} {OHIF_VERSION}, fetched once with "
        "npm into ~/.cache/healthimaging-setup and checked against its pinned hash)",
    )


def _view(args: argparse.Namespace) -> int:
    from ahiops.dicomweb import proxy_for
    from ahiops.errors import AwsAccessError, UsageError
    from ahiops.session import translate_client_errors
    from ahiops.viewer_app import OHIF_VERSION, cached_app_dir, viewer_app_dir
    from ahiops.viewer_config import app_config_js
    from ahiops.viewer_rules import study_uid_problem
    from ahiops.viewer_server import ViewerServer, ViewerSettings

    if args.study is not None and study_uid_problem(args.study):
        raise UsageError(f"--study {args.study}: {study_uid_problem(args.study)}")
    outputs = ops_common.stack_outputs_from_args(args)
    session = ops_common.session_from_args(args, outputs)
    region = str(session.region_name)
    with translate_client_errors("sign the viewer's requests", profile=args.profile):
        credentials = session.get_credentials()
        if credentials is None:
            raise AwsAccessError(
                "no AWS credentials were found to sign the viewer's requests; sign in with `aws sso login "
                "--profile <your-profile>` (or set AWS_PROFILE / pass --profile)."
            )
        credentials.get_frozen_credentials()  # an expired sign-in is an error now, not in the browser
    if args.viewer_dir is None and not (cached_app_dir() / "index.html").is_file():
        print(
            f"Fetching the OHIF Viewer {OHIF_VERSION} (about 50 MB, once) into {cached_app_dir().parent}",
            file=sys.stderr,
        )
    app_dir = viewer_app_dir(args.viewer_dir)
    root = outputs.dicomweb_root
    proxy = proxy_for(root)
    try:
        server = ViewerServer(
            ViewerSettings(
                datastore_id=outputs.datastore_id,
                dicomweb_root=root,
                region=region,
                credentials=credentials.get_frozen_credentials,
                app_dir=app_dir,
                app_config=app_config_js(outputs.datastore_id),
                port=args.port or 0,
                ca_bundle=session._session.get_config_variable("ca_bundle"),
                proxy=proxy,
                on_problem=lambda message: print(f"warning: {message}", file=sys.stderr, flush=True),
            )
        )
    except ValueError as error:
        # Only the proxy's host is named: its URL may carry a password.
        raise UsageError(
            f"the HTTPS proxy (HTTPS_PROXY, host {urlsplit(proxy or '').hostname}) cannot be used: {error}. Set "
            "HTTPS_PROXY to http://host:port, or name the DICOMweb host in NO_PROXY."
        ) from None
    try:
        server.start()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise UsageError(
                f"--port {args.port}: 127.0.0.1:{args.port} is in use by another program; choose another port, "
                "or leave out --port for a free one."
            ) from None
        raise UsageError(f"--port {args.port}: cannot listen on 127.0.0.1:{args.port} ({error.strerror}).") from None
    try:
        url = server.open_url(args.study)
        print(
            f"Serving the OHIF Viewer for data store {outputs.datastore_id} ({outputs.source}) on 127.0.0.1 only; "
            f"its DICOMweb requests are signed for {region} and sent to {root}. Whoever has the URL can read the "
            "images as you until you stop this command with Ctrl-C.",
            file=sys.stderr,
        )
        print(f"Viewer: {url}", flush=True)
        if not args.no_browser:
            _open_browser(url)
        _wait_for_stop()
    except KeyboardInterrupt:
        print("\nstopped: the viewer's URL no longer works.", file=sys.stderr)
    finally:
        server.stop()
    return 0


def _open_browser(url: str) -> None:
    import webbrowser

    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        print("warning: no browser could be opened; open the URL above yourself.", file=sys.stderr)


def _wait_for_stop() -> None:
    """Wait until Ctrl-C (SIGINT) or SIGTERM; both end as KeyboardInterrupt."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    forever = threading.Event()
    while not forever.wait(3600):
        pass


def run(args: argparse.Namespace) -> int:
    return ops_common.run_command(lambda: _view(args))
