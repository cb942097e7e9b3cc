"""The ``rxrealtime`` command line: ``demo``, ``serve``, ``chat``, ``replay``, ``record``.

Every sub-command is a small function returning the process exit status. Argument errors exit
with status 2 and a usage message (argparse's convention); a failure the user can act on (an
unreachable server, a rejected key, a missing file) prints one line, ``rxrealtime COMMAND:
what went wrong``, on stderr and exits with status 1, without a traceback; Ctrl-C exits with
status 130.

``demo``, ``chat`` and ``record`` talk to the endpoint given by ``--base-url``, else to the
OpenAI API when ``OPENAI_API_KEY`` (or ``OPENAI_BASE_URL``) is set, else to an embedded server
started in-process (:mod:`rxrealtime.server`). The API key always comes from
``OPENAI_API_KEY``, never from the command line (it would show in the process list).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from rxrealtime._cli_common import DEFAULT_MODEL, CliError
from rxrealtime.errors import RxRealtimeError

__all__ = ["main"]

_REPLAY_VIEWS = ("text", "tools", "events", "timeline")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
    return value


def _add_endpoint(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="Realtime endpoint, e.g. ws://127.0.0.1:8765/v1 (default: the OpenAI API when "
        "OPENAI_API_KEY is set, else an embedded server)",
    )
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"model to ask for (default {DEFAULT_MODEL})"
    )


def _add_demo_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="directory for the voice answer's WAV file (default: the current directory)",
    )
    pacing = parser.add_mutually_exclusive_group()
    pacing.add_argument(
        "--fast",
        dest="realtime_audio",
        action="store_false",
        help="embedded server: stream audio as fast as possible (default)",
    )
    pacing.add_argument(
        "--realtime",
        dest="realtime_audio",
        action="store_true",
        help="embedded server: stream audio in real time, like the live service",
    )
    parser.set_defaults(realtime_audio=False)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rxrealtime",
        description="The OpenAI Realtime API as a reactivex Observable of typed events.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo", help="run the showcase (on the embedded server when no key is set)"
    )
    _add_endpoint(demo)
    _add_demo_options(demo)
    demo.add_argument("--record", type=Path, metavar="FILE", help="also record the session")

    serve = commands.add_parser("serve", help="run the embedded Realtime server")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port to bind (0 picks a free one)")

    chat = commands.add_parser(
        "chat", help="chat in the terminal (lines from stdin until EOF or /quit)"
    )
    _add_endpoint(chat)
    chat.add_argument("--record", type=Path, metavar="FILE", help="also record the session")

    replay = commands.add_parser("replay", help="print what a recording (JSONL) says")
    replay.add_argument("file", type=Path, metavar="FILE", help="a recording or JSONL of events")
    replay.add_argument(
        "--only",
        choices=_REPLAY_VIEWS,
        help="text: the conversation's words; tools: the tool calls; events: every frame; "
        "timeline: event types per response (default: conversation, tools and timeline)",
    )
    replay.add_argument(
        "--speed",
        type=_positive,
        metavar="X",
        help="replay with the recorded timing, X times as fast (default: at once)",
    )

    record = commands.add_parser("record", help="run the demo or a chat while recording it")
    record.add_argument("file", type=Path, metavar="FILE", help="the JSONL file to write")
    record.add_argument(
        "what", nargs="?", choices=("demo", "chat"), default="demo", help="default: demo"
    )
    _add_endpoint(record)
    _add_demo_options(record)
    return parser


def _run(command: str, work: Coroutine[Any, Any, None]) -> int:
    """Run ``work`` on a new event loop; turn the failures users can act on into one line."""
    try:
        asyncio.run(work)
    except KeyboardInterrupt:
        print(f"rxrealtime {command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python's final flush of
        # stdout from failing again (the recipe in the ``signal`` module's documentation).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (CliError, RxRealtimeError, OSError) as error:
        message = " ".join(str(error).split()) or type(error).__name__  # one line
        print(f"rxrealtime {command}: {message}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    args = _build_parser().parse_args(argv)
    command: str = args.command
    # The commands print their own one-line message for a session that ends abnormally; the
    # library's warning about it would say the same thing twice. Errors still show.
    logging.getLogger("rxrealtime").setLevel(logging.ERROR)
    if command == "serve":
        from rxrealtime.server.cli import serve_main

        return serve_main(host=args.host, port=args.port)
    if command == "replay":
        from rxrealtime._cli_replay import run_replay

        return _run(command, run_replay(args.file, only=args.only, speed=args.speed))
    what = args.what if command == "record" else command
    record: Path | None = args.file if command == "record" else args.record
    if what == "chat":
        from rxrealtime._cli_chat import run_chat

        return _run(command, run_chat(base_url=args.base_url, model=args.model, record=record))
    from rxrealtime.demo import DemoOptions, run_demo

    options = DemoOptions(
        base_url=args.base_url,
        model=args.model,
        out=args.out,
        realtime_audio=args.realtime_audio,
        record=record,
    )
    return _run(command, run_demo(options))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
