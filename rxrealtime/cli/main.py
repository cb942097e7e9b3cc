"""The ``rxrealtime`` command line's arguments and dispatch: ``demo``, ``serve``, ``chat``,
``replay``, ``record``, and ``--version``.

Every sub-command is a small function returning the process exit status. Argument errors exit
with status 2 and the usage of the (sub-)command they belong to (argparse's convention); a
failure the user can act on (an unreachable server, a rejected key, a missing file, a file that
is not a recording, a port that cannot be bound) prints one line, ``rxrealtime COMMAND: what
went wrong``, on stderr and exits with status 1, without a traceback; Ctrl-C exits with status
130 (``chat`` included) after ``rxrealtime COMMAND: interrupted`` on stderr.

``demo``, ``chat`` and ``record`` talk to the endpoint given by ``--base-url``, else to the
OpenAI API when ``OPENAI_API_KEY`` (or ``OPENAI_BASE_URL``) is set, else to an embedded server
started in-process (:mod:`rxrealtime.server`). The API key always comes from
``OPENAI_API_KEY``, never from the command line (it would show in the process list).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from rxrealtime._version import __version__
from rxrealtime.cli.common import DEFAULT_MODEL, CliError
from rxrealtime.cli.replay import VIEWS
from rxrealtime.errors import RxRealtimeError

__all__ = ["build_parser", "main"]


def _version() -> str:
    return __version__


class _CommandParser(argparse.ArgumentParser):
    """A sub-command's parser: an argument it does not know is its error, reported with its
    own usage (argparse would hand it back to the top-level parser, whose usage says nothing
    about the sub-command's options)."""

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        namespace, extras = super().parse_known_args(*args, **kwargs)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, not {text}")
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


def _add_pacing(parser: argparse.ArgumentParser, *, realtime: bool, prefix: str = "") -> None:
    pacing = parser.add_mutually_exclusive_group()
    pacing.add_argument(
        "--fast",
        dest="realtime_audio",
        action="store_false",
        help=f"{prefix}stream audio as fast as possible" + ("" if realtime else " (default)"),
    )
    pacing.add_argument(
        "--realtime",
        dest="realtime_audio",
        action="store_true",
        help=f"{prefix}pace audio at speaking speed, like the live service"
        + (" (default)" if realtime else ""),
    )
    parser.set_defaults(realtime_audio=realtime)


def _add_demo_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="directory for the voice answer's WAV file (default: the current directory)",
    )
    _add_pacing(parser, realtime=False, prefix="embedded server: ")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line's parser (each sub-command has its own usage)."""
    parser = argparse.ArgumentParser(
        prog="rxrealtime",
        description="The OpenAI Realtime API as a reactivex Observable of typed events.",
    )
    parser.add_argument("--version", action="version", version=f"rxrealtime {_version()}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_CommandParser
    )

    demo = commands.add_parser(
        "demo", help="run the showcase (on the embedded server when no key is set)"
    )
    _add_endpoint(demo)
    _add_demo_options(demo)
    demo.add_argument("--record", type=Path, metavar="FILE", help="also record the session")

    serve = commands.add_parser("serve", help="run the embedded Realtime server")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=8765, help="port to bind (default 8765; 0 picks a free one)"
    )
    _add_pacing(serve, realtime=True)
    serve.add_argument(
        "--require-key",
        metavar="KEY",
        help="refuse clients that do not send 'Authorization: Bearer KEY' (invalid_api_key, "
        "close 3000, like the live service); KEY shows in the process list, so use a test key",
    )
    serve.add_argument(
        "--quiet", action="store_true", help="do not log connections (one line each on stderr)"
    )

    chat = commands.add_parser(
        "chat",
        help="chat in the terminal (lines from stdin until EOF or /quit; /help for commands)",
    )
    _add_endpoint(chat)
    chat.add_argument("--record", type=Path, metavar="FILE", help="also record the session")
    from rxrealtime.cli.voice_chat import add_voice_options

    add_voice_options(chat)

    replay = commands.add_parser("replay", help="print what a recording (JSONL) says")
    replay.add_argument("file", type=Path, metavar="FILE", help="a recording or JSONL of events")
    replay.add_argument(
        "--only",
        choices=VIEWS,
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

    from rxrealtime.cli import fleet, monitor  # Redis: fleet + monitor (see "Scaling out")

    fleet.add_parser(commands)
    monitor.add_parser(commands)
    return parser


async def _woken_by_signals(work: Coroutine[Any, Any, None]) -> None:
    """Await ``work`` with the event loop woken by every signal, whichever thread gets it.

    ``asyncio.run`` handles Ctrl-C in Python, which runs only once the main thread runs; the
    system may deliver the signal to any thread of the process (``chat``'s line-editing thread,
    an audio device's thread), and the main thread, asleep in ``select()``, would then not see
    it until something else woke the loop. A wake-up socket (``signal.set_wakeup_fd``) that the
    loop watches makes every signal wake it; the previous wake-up descriptor is restored after.
    """
    loop = asyncio.get_running_loop()
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    try:
        previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except ValueError:  # not on the main thread: signals are not ours to watch
        reader.close()
        writer.close()
        await work
        return
    loop.add_reader(reader.fileno(), _drain, reader)
    try:
        await work
    finally:
        loop.remove_reader(reader.fileno())
        signal.set_wakeup_fd(previous)
        reader.close()
        writer.close()


def _drain(reader: socket.socket) -> None:
    with contextlib.suppress(OSError):  # BlockingIOError: nothing (more) to read
        reader.recv(4096)


def _run(command: str, work: Coroutine[Any, Any, None]) -> int:
    """Run ``work`` on a new event loop; turn the failures users can act on into one line.
    Ctrl-C (SIGINT) ends it with status 130, whichever thread of the process it reaches."""
    try:
        asyncio.run(_woken_by_signals(work))
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
    args = build_parser().parse_args(argv)
    command: str = args.command
    if command == "serve":
        from rxrealtime.cli.serve import serve_main

        return serve_main(
            host=args.host,
            port=args.port,
            realtime_audio=args.realtime_audio,
            api_key=args.require_key,
            log_connections=not args.quiet,
        )
    # The commands print their own one-line message for a session that ends abnormally; the
    # library's warning about it would say the same thing twice. Errors still show.
    logging.getLogger("rxrealtime").setLevel(logging.ERROR)
    if command in ("fleet", "monitor"):
        from rxrealtime.cli import fleet, monitor

        return _run(command, (fleet if command == "fleet" else monitor).main(args))
    if command == "replay":
        from rxrealtime.cli.replay import run_replay

        return _run(command, run_replay(args.file, only=args.only, speed=args.speed))
    # ``record FILE [demo|chat]`` is ``demo``/``chat`` with ``--record FILE``.
    what = args.what if command == "record" else command
    record: Path | None = args.file if command == "record" else args.record
    if what == "chat" and getattr(args, "voice", False):
        from rxrealtime.cli.voice_chat import run_voice_chat

        voice = run_voice_chat(
            base_url=args.base_url,
            model=args.model,
            record=record,
            input_device=args.input_device,
            output_device=args.output_device,
        )
        return _run(command, voice)
    if what == "chat":
        from rxrealtime.cli.chat import run_chat

        return _run(command, run_chat(base_url=args.base_url, model=args.model, record=record))
    from rxrealtime.cli.demo import DemoOptions, run_demo

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
