"""``rxrealtime demo``: the showcase.

It talks to a Realtime endpoint through rxrealtime's own layers, in four short sections:

1. a text answer, printed word by word as it streams (``ops.text_only``);
2. a tool call round trip: the session offers ``get_weather`` and ``calculate``, the tool
   runner (``sinks.tool_runner.run_tools``) executes the model's calls as local Python
   functions and the model's final answer streams in;
3. a voice answer (``output_modalities=["audio"]``) written to a WAV file by
   ``sinks.WavWriter`` while its transcript streams (``ops.audio_chunks`` counts the audio);
4. a summary: token usage (``ops.usage``), latency (``ops.latency``) and the events seen.

With no ``OPENAI_API_KEY`` and no base URL the endpoint is the embedded server
(:mod:`rxrealtime.server`), started in-process with its deterministic model, so the output is
predictable and the whole run takes well under a second. Every callback runs on the event
loop's thread, so what is printed follows the order of the events.

The summary counts events once the session has gone quiet: the server sends each response's
``rate_limits.updated`` shortly after its ``response.done``, and the demo waits for the last
one (at most :data:`SETTLE_TIMEOUT` seconds) before counting, so on the embedded server the
count is the same on every run.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Iterable
from pathlib import Path

import attrs
from reactivex.disposable import CompositeDisposable

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime import sinks
from rxrealtime.cli.common import (
    DEFAULT_MODEL,
    CliError,
    LinePrinter,
    complete_turn,
    endpoint,
    ignore_error,
    wait_session_created,
)
from rxrealtime.cli.record import recorded_session
from rxrealtime.cli.tools import TOOL_DEFINITIONS, traced_tools
from rxrealtime.session import RealtimeSession
from rxrealtime.sinks.tool_runner import run_tools

__all__ = [
    "INSTRUCTIONS",
    "SETTLE_TIMEOUT",
    "TEXT_PROMPT",
    "TOOL_PROMPTS",
    "VOICE_PROMPT",
    "WAV_NAME",
    "DemoOptions",
    "run_demo",
]

INSTRUCTIONS = "You are a concise assistant. Use the tools for weather and arithmetic."
TEXT_PROMPT = "Hello! Who are you?"
TOOL_PROMPTS = ("What's the weather in Paris today?", "And what is 12 times 7?")
VOICE_PROMPT = "Out loud: what is 6 times 7?"
WAV_NAME = "rxrealtime-demo.wav"
_SAMPLE_RATE = 24_000
SETTLE_TIMEOUT = 5.0
"""Seconds the summary waits for the last response's ``rate_limits.updated``."""


@attrs.frozen
class DemoOptions:
    """The ``demo`` command's options (see ``python -m rxrealtime demo --help``)."""

    base_url: str | None = None
    model: str = DEFAULT_MODEL
    out: Path = Path()
    realtime_audio: bool = False
    record: Path | None = None


async def run_demo(options: DemoOptions) -> None:
    """Run the showcase, printing as it goes; raises :class:`CliError` (or a typed
    :class:`~rxrealtime.errors.RxRealtimeError`) when it cannot complete."""
    started = time.perf_counter()
    async with endpoint(options.base_url, realtime_audio=options.realtime_audio) as where:
        print(f"rxrealtime demo: {where.description}, model {options.model}", flush=True)
        async with recorded_session(where, options.model, options.record) as session:
            await _Showcase(session, options).run()
    if options.record is not None:
        print(f"recorded to {options.record}")
    print(f"done in {time.perf_counter() - started:.2f} s")


def _header(number: int, title: str) -> None:
    print(f"\n[{number}/4] {title}", flush=True)


class _Showcase:
    """One run of the script on an open session."""

    def __init__(self, session: RealtimeSession, options: DemoOptions) -> None:
        self.session = session
        self.options = options
        self.printer = LinePrinter()
        self.counts: collections.Counter[str] = collections.Counter()
        self._settled = asyncio.Event()
        self.usage: ops.UsageTotals = ops.UsageTotals()
        self.latencies: list[ops.Latency] = []

    async def run(self) -> None:
        events = self.session.events
        # Subscribed before the first event is delivered, so they see the whole session.
        watching = CompositeDisposable(
            self.printer.attach(events),
            events.subscribe(self._count, ignore_error),
            events.pipe(ops.usage()).subscribe(self._on_usage, ignore_error),
            events.pipe(ops.latency()).subscribe(self.latencies.append, ignore_error),
        )
        try:
            created = await wait_session_created(self.session)
        except BaseException:
            watching.dispose()
            raise
        session_id = created.session.id if created.session is not None else None
        print(f"connected: session {session_id or '(no id)'}", flush=True)
        runner = run_tools(self.session, traced_tools(self.printer.line), sync_in_thread=False)
        try:
            await self.text_answer()
            await self.tool_round_trip()
            await self.voice_answer()
            await self._settle()
        finally:
            await runner.aclose()
            watching.dispose()
        self.summary()

    def _count(self, event: ev.ServerEvent) -> None:
        counts = self.counts
        counts.update((event.type or "?",))
        if counts["rate_limits.updated"] >= counts["response.done"]:
            self._settled.set()
        else:
            self._settled.clear()

    async def _settle(self) -> None:
        """Wait until every ``response.done`` so far has had its ``rate_limits.updated`` (the
        server's last event of a turn), at most :data:`SETTLE_TIMEOUT` seconds: an endpoint
        that sends none only delays the summary."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), SETTLE_TIMEOUT)

    def _on_usage(self, totals: ops.UsageTotals) -> None:
        self.usage = totals

    async def _ask(self, text: str, modality: str, *, tools: bool = True) -> None:
        self.printer.line(f"you: {text}")
        await self.session.send(ev.ConversationItemCreate.user_text(text))
        await self.session.send(
            ev.ResponseCreate(
                response=ev.ResponseCreateParams(
                    output_modalities=[modality], tool_choice=None if tools else "none"
                )
            )
        )

    async def text_answer(self) -> None:
        _header(1, "A streamed text answer (ops.text_only)")

        async def request() -> None:
            await self.session.send(
                ev.SessionUpdate(
                    session=ev.RealtimeSessionConfig(
                        instructions=INSTRUCTIONS,
                        output_modalities=["text"],
                        tools=list(TOOL_DEFINITIONS),
                        tool_choice="auto",
                    )
                )
            )
            await self._ask(TEXT_PROMPT, "text")

        await complete_turn(self.session, request)

    async def tool_round_trip(self) -> None:
        _header(2, "A tool call round trip (sinks.tool_runner.run_tools)")
        for prompt in TOOL_PROMPTS:

            async def request(prompt: str = prompt) -> None:
                await self._ask(prompt, "text")

            await complete_turn(self.session, request)

    async def voice_answer(self) -> None:
        _header(3, "A voice answer saved as WAV (sinks.WavWriter, ops.audio_chunks)")
        out = self.options.out
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CliError(f"cannot create {out}: {error.strerror or error}") from None
        wav = sinks.WavWriter(out / WAV_NAME, per="session", sample_rate=_SAMPLE_RATE)
        chunks: list[ops.AudioChunk] = []
        events = self.session.events
        subscriptions = CompositeDisposable(
            events.subscribe(wav),
            events.pipe(ops.audio_chunks()).subscribe(chunks.append, ignore_error),
        )

        async def request() -> None:
            await self._ask(VOICE_PROMPT, "audio", tools=False)

        try:
            await complete_turn(self.session, request)
        finally:
            subscriptions.dispose()
            wav.close()
        if not wav.files:
            raise CliError("the model sent no audio")
        saved = wav.files[0]
        seconds = saved.frames / _SAMPLE_RATE
        print(f"saved: {saved.path} ({seconds:.2f} s of audio in {len(chunks)} chunks)")

    def summary(self) -> None:
        _header(4, "Summary (ops.usage, ops.latency)")
        usage = self.usage
        print(
            f"usage:   {usage.responses} responses, {usage.total_tokens} tokens "
            f"({usage.input_tokens} in, {usage.output_tokens} out; "
            f"audio {usage.input_audio} in, {usage.output_audio} out)"
        )
        first = _median(lat.created_to_first_delta_ms for lat in self.latencies)
        whole = _median(lat.created_to_done_ms for lat in self.latencies)
        print(
            f"latency: first delta {_ms(first)}, response done {_ms(whole)} "
            f"(median of {len(self.latencies)} responses)"
        )
        stats = self.session.statistics()
        print(
            f"events:  {sum(self.counts.values())} received in {len(self.counts)} types, "
            f"{stats.frames_out} sent"
        )
        for line in _columns(self.counts.most_common()):
            print(f"  {line}")


def _median(values: Iterable[float | None]) -> float | None:
    known = sorted(v for v in values if v is not None)
    if not known:
        return None
    middle = len(known) // 2
    return known[middle] if len(known) % 2 else (known[middle - 1] + known[middle]) / 2


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def _columns(counts: list[tuple[str, int]], columns: int = 2) -> list[str]:
    """``counts`` as ``"  N type"`` cells laid out in ``columns`` columns, read down."""
    cells = [f"{count:4d} {name}" for name, count in counts]
    rows = -(-len(cells) // columns)
    width = max((len(cell) for cell in cells), default=0)
    lines = []
    for row in range(rows):
        line = [cells[i] for i in range(row, len(cells), rows)]
        lines.append("  ".join(cell.ljust(width) for cell in line).rstrip())
    return lines
