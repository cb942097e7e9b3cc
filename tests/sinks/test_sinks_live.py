"""Every sink on a real session with the embedded server (loopback socket, deterministic model)."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rxrealtime import events as ev
from rxrealtime.server import decode_tones, serve
from rxrealtime.session import RealtimeSession, connect
from rxrealtime.sinks import (
    DisplayState,
    EventLogger,
    NotebookDisplay,
    Recorder,
    TextPrinter,
    WavWriter,
)

KEY = "sk-live-sinks-SECRET-0987654321"
GREETING = "Hello! How can I help you today?"


@pytest.fixture
async def session() -> AsyncIterator[RealtimeSession]:
    async with (
        serve(realtime_audio=False, api_key=KEY, text_delta_interval=0.01) as server,
        connect(api_key=KEY, base_url=server.base_url) as live,
    ):
        yield live


async def ask(session: RealtimeSession, text: str, modality: str) -> ev.ResponseDone:
    """Send one user message, ask for a response, return its ``response.done``."""
    done: list[ev.ResponseDone] = []
    iterator = session.iterate()
    content = [{"type": "input_text", "text": text}]
    await session.conversation.item.create(
        item={"type": "message", "role": "user", "content": content}
    )
    await session.response.create(response={"output_modalities": [modality]})
    async for event in iterator:
        if isinstance(event, ev.ResponseDone):
            done.append(event)
            break
    await iterator.aclose()
    return done[0]


async def test_text_printer_streams_each_answer_on_its_own_line(session: RealtimeSession) -> None:
    stream = io.StringIO()
    session.events.subscribe(TextPrinter(stream))
    await ask(session, "hello", "text")
    await ask(session, "hi", "audio")  # the transcript of a spoken answer is printed too
    await session.close()
    assert stream.getvalue() == f"{GREETING}\n{GREETING}\n"


async def test_wav_writer_saves_each_spoken_answer(
    session: RealtimeSession, tmp_path: Path
) -> None:
    writer = WavWriter(tmp_path / "{index}-{response_id}.wav")
    session.events.subscribe(writer)
    first = await ask(session, "hello", "audio")
    await ask(session, "hello", "text")  # no audio: no file
    second = await ask(session, "what is 2 plus 3?", "audio")
    await session.close()
    assert [f.response_id for f in writer.files] == [first.response.id, second.response.id]
    for file in writer.files:
        with wave.open(str(file.path), "rb") as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24000)
            assert wav.getnframes() == file.frames > 0
            pcm = wav.readframes(wav.getnframes())
        assert decode_tones(pcm) is not None
    with wave.open(str(writer.files[0].path), "rb") as wav:
        spoken = decode_tones(wav.readframes(wav.getnframes()))
    assert spoken == GREETING.lower()


async def test_event_logger_logs_the_session(
    session: RealtimeSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="rxrealtime.events")
    session.events.subscribe(EventLogger())
    await ask(session, "hello", "audio")
    async with session.iterate() as iterator:
        await session.send_raw('{"type": "no.such.client.event"}')  # the server answers: error
        async for event in iterator:
            if isinstance(event, ev.ErrorEvent):
                break
    await session.close()
    records = [r for r in caplog.records if r.name == "rxrealtime.events"]
    by_type = {r.getMessage().split(" ")[0]: r.levelno for r in records}
    assert by_type["session.created"] == logging.INFO
    assert by_type["response.output_audio.delta"] == logging.DEBUG
    assert by_type["response.done"] == logging.INFO
    assert by_type["error"] == logging.ERROR
    assert records[-1].getMessage() == "event stream completed"
    audio_lines = [
        r.getMessage() for r in records if r.getMessage().startswith("response.output_audio.delta")
    ]
    assert audio_lines
    assert all("chars of base64 audio>" in line and len(line) < 400 for line in audio_lines)
    assert KEY not in caplog.text


async def test_notebook_display_throttles_on_the_loop(session: RealtimeSession) -> None:
    loop = asyncio.get_running_loop()
    draws: list[tuple[float, DisplayState]] = []

    class Output:
        def update(self, state: Any) -> None:
            draws.append((loop.time(), state))

    def display(state: Any, *, display_id: bool) -> Output:
        output = Output()
        output.update(state)
        return output

    sink = NotebookDisplay(render=lambda s: s, interval=0.05, display=display)
    session.events.subscribe(sink)
    await ask(session, "hello", "text")
    await session.close()
    times = [t for t, _ in draws]
    final = draws[-1][1]
    assert final.finished
    assert final.text == GREETING + "\n"
    assert final.events > len(draws) - 1  # events were coalesced
    middle = times[1:-1]
    assert all(b - a >= 0.05 - 0.005 for a, b in itertools.pairwise(middle))


async def test_recorder_as_observer_with_outgoing_frames(
    session: RealtimeSession, tmp_path: Path
) -> None:
    path = tmp_path / "rec.jsonl"
    recorder = Recorder(path, secrets=[KEY])
    session.events.subscribe(recorder)
    outgoing = {"type": "response.create", "response": {"output_modalities": ["text"]}}
    recorder.record_out(outgoing)
    await session.send(outgoing)
    async for event in session:
        if isinstance(event, ev.ResponseDone):
            break
    await session.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[-1]["reason"] == "completed"
    assert records[1]["event"]["type"] in ("session.created", "response.create")
    assert [r["event"]["type"] for r in records if r.get("dir") == "out"] == ["response.create"]
    assert KEY not in path.read_text()
