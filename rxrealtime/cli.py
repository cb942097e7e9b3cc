"""The ``rxrealtime`` command line: ``demo``, ``serve``, ``chat``, ``replay``.

Every sub-command is a small function returning the process exit status; argument errors
exit with status 2 and a usage message (argparse's convention).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rxrealtime",
        description="The OpenAI Realtime API as a reactivex Observable of typed events.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    commands.add_parser("demo", help="run the showcase (on the embedded server when no key is set)")

    serve = commands.add_parser("serve", help="run the embedded Realtime server")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port to bind (0 picks a free one)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        from rxrealtime.server.cli import serve_main

        return serve_main(host=args.host, port=args.port)
    print("rxrealtime demo: not built yet (the showcase arrives with the session layer).")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
