"""``cloudlet`` command line: ``cloudlet serve`` and ``cloudlet status``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path

from cloudlet import __version__
from cloudlet.config import DEFAULT_PORT, ServerConfig


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cloudlet", description="A whole cloud on one machine.")
    p.add_argument("--version", action="version", version=f"cloudlet {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run every service on one port, in the foreground")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=DEFAULT_PORT)
    s.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where state lives (default $XDG_DATA_HOME/cloudlet)",
    )
    s.add_argument("--ephemeral", action="store_true", help="keep everything in memory")
    s.add_argument(
        "--auth",
        choices=("open", "strict"),
        default="open",
        help="open: any credentials; strict: known keys and valid signatures",
    )
    s.add_argument("--root-access-key", default=os.environ.get("CLOUDLET_ROOT_ACCESS_KEY", "test"))
    s.add_argument("--root-secret-key", default=os.environ.get("CLOUDLET_ROOT_SECRET_KEY", "test"))
    s.add_argument(
        "--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug")
    )
    s.add_argument(
        "--request-timeout",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="drop a request whose head or body stops arriving for this long (default 20)",
    )
    s.add_argument("--smtp-host", default=None, help="SMTP server for SNS email subscriptions")
    s.add_argument("--smtp-port", type=int, default=25)

    st = sub.add_parser("status", help="ask a running server for its health")
    st.add_argument("--endpoint", default=f"http://127.0.0.1:{DEFAULT_PORT}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from cloudlet.server import run

        config = ServerConfig(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            ephemeral=args.ephemeral,
            auth=args.auth,
            root_access_key=args.root_access_key,
            root_secret_key=args.root_secret_key,
            log_level=args.log_level,
            request_timeout=args.request_timeout,
            smtp_host=args.smtp_host,
            smtp_port=args.smtp_port,
        )
        return run(config)
    if args.command == "status":
        try:
            with urllib.request.urlopen(args.endpoint.rstrip("/") + "/_cloudlet/health") as r:
                print(json.dumps(json.load(r), indent=2))
        except OSError as exc:
            print(f"cloudlet is not answering at {args.endpoint}: {exc}", file=sys.stderr)
            return 1
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
