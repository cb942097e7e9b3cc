"""send_audio against the embedded server: turn modes, size limits, back-pressure, stopping."""

from __future__ import annotations

import asyncio
import base64
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import reactivex
from reactivex import operators as rx_ops
from reactivex.subject import Subject

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.audio import PCM16
from rxrealtime.errors import BufferOverflowError
from rxrealtime.scheduling import LoopScheduler, first
from rxrealtime.server import encode_text, serve
from rxrealtime.validation import MAX_AUDIO_APPEND_BYTES

TEXT_ONLY = {"output_modalities": ["text"]}


@pytest.fixture
async def session() -> AsyncIterator[rr.RealtimeSession]:
    async with (
        serve(realtime_audio=False) as server,
        rr.connect(base_url=server.base_url) as opened,
    ):
        yield opened


async def _configure(session: rr.RealtimeSession, turn_detection: Any) -> None:
    updated = asyncio.ensure_future(first(session.events.pipe(ops.of_type(ev.SessionUpdated))))
    await session.session.update(
        session={
            "type": "realtime",
            **TEXT_ONLY,
            "audio": {"input": {"turn_detection": turn_detection}},
        }
    )
    await updated


def _reply(session: rr.RealtimeSession) -> asyncio.Future[ops.ResponseSummary]:
    return asyncio.ensure_future(first(session.events.pipe(ops.responses())))


def _write_wav(path: Path, data: bytes) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(24000)
        out.writeframes(data)
    return path


async def test_server_vad_turns_from_a_wav_file(
    session: rr.RealtimeSession, tmp_path: Path
) -> None:
    await _configure(session, {"type": "server_vad"})
    speech = PCM16.silence(9600) + encode_text("2 + 3") + PCM16.silence(24000)
    path = _write_wav(tmp_path / "q.wav", speech)
    reply = _reply(session)
    started = asyncio.ensure_future(
        first(session.events.pipe(ops.of_type(ev.InputAudioBufferSpeechStarted)))
    )
    statistics = await rr.audio.send_audio(session, rr.audio.wav_file(path, realtime=False))
    assert statistics.reason == "completed" and statistics.commits == 0
    assert statistics.bytes_sent == PCM16.ms_to_bytes(PCM16.duration_ms(path.read_bytes()[44:]))
    assert statistics.appends <= statistics.frames_received
    assert (await started).audio_start_ms == 0  # 200 ms of silence, less 300 ms of padding
    assert (await asyncio.wait_for(reply, 30)).text == "2 + 3 = 5."


async def test_push_to_talk_commits_when_the_stream_ends(session: rr.RealtimeSession) -> None:
    await _configure(session, None)
    frames = reactivex.from_iterable([encode_text("hello")]).pipe(rr.audio.reframe(20))
    reply = _reply(session)
    statistics = await rr.audio.send_audio(session, frames, push_to_talk=True)
    assert (statistics.commits, statistics.responses_requested) == (1, 1)
    assert (await asyncio.wait_for(reply, 30)).text == "Hello! How can I help you today?"


async def test_a_push_to_talk_button_sends_only_while_held(session: rr.RealtimeSession) -> None:
    await _configure(session, None)
    button: Subject[bool] = Subject()
    frames: Subject[bytes] = Subject()
    sender = rr.audio.send_audio(session, frames, push_to_talk=button)
    reply = _reply(session)
    frames.on_next(encode_text("weather"))  # not held: ignored
    button.on_next(True)
    for frame in (
        reactivex.from_iterable([encode_text("2 * 21")])
        .pipe(rr.audio.reframe(20))
        .pipe(rx_ops.to_list())
        .run()
    ):
        frames.on_next(frame)
    button.on_next(False)  # release: commit and respond
    assert (await asyncio.wait_for(reply, 30)).text == "2 * 21 = 42."
    frames.on_completed()
    statistics = await sender
    assert statistics.frames_ignored == 1 and statistics.commits == 1
    assert statistics.reason == "completed"


async def test_appends_stay_within_the_event_size_limit(session: rr.RealtimeSession) -> None:
    """Queued frames go out together, but no append passes what one event may carry; the
    server (which closes the connection on an oversized frame) gets every byte."""
    await _configure(session, None)
    frame = PCM16.silence(4_800_000)  # 100 s
    reply = _reply(session)
    statistics = await rr.audio.send_audio(
        session, reactivex.from_iterable([frame] * 3), push_to_talk=True, max_buffer_bytes=10**8
    )
    assert 2 * len(frame) <= MAX_AUDIO_APPEND_BYTES < 3 * len(frame)
    assert statistics.appends == 2 and statistics.bytes_sent == 3 * len(frame)
    assert (await asyncio.wait_for(reply, 60)).text == 'You said: "(300.0 seconds of audio)".'


@pytest.mark.parametrize(("overflow", "kept"), [("drop_oldest", [8, 9]), ("drop_newest", [0, 1])])
async def test_a_full_buffer_drops_audio_by_its_policy(
    session: rr.RealtimeSession, overflow: Any, kept: list[int]
) -> None:
    """Ten 100 ms frames arrive at once into a buffer of 200 ms: two are kept (the newest or
    the oldest), and the server's buffer holds exactly those."""
    await _configure(session, None)
    frames = [bytes([index, 0]) * 2400 for index in range(10)]
    committed = asyncio.ensure_future(
        first(session.events.pipe(ops.of_type(ev.InputAudioBufferCommitted)))
    )
    statistics = await rr.audio.send_audio(
        session,
        reactivex.from_iterable(frames),
        max_buffer_bytes=2 * 4800,
        overflow=overflow,
        push_to_talk=True,
        respond=False,
    )
    assert statistics.dropped_bytes == 8 * 4800 and statistics.bytes_sent == 2 * 4800
    item_id = (await committed).item_id
    retrieved = asyncio.ensure_future(
        first(session.events.pipe(ops.of_type(ev.ConversationItemRetrieved)))
    )
    await session.conversation.item.retrieve(item_id=item_id)
    item = (await retrieved).item
    audio = base64.b64decode(item.content[0].audio)
    assert audio == b"".join(frames[index] for index in kept)


async def test_a_full_buffer_with_the_error_policy_stops_the_sender_only(
    session: rr.RealtimeSession,
) -> None:
    await _configure(session, None)
    frames = reactivex.from_iterable([bytes(400)] * 10)
    sender = rr.audio.send_audio(session, frames, max_buffer_bytes=1000, overflow="error")
    with pytest.raises(BufferOverflowError):
        await sender
    assert sender.statistics().reason == "error"
    reply = _reply(session)
    await session.conversation.item.create(item=ev.UserMessage.text("hi"))
    await session.response.create()
    assert (await asyncio.wait_for(reply, 30)).status == "completed"  # the session goes on


async def test_the_sender_stops_when_the_session_closes(session: rr.RealtimeSession) -> None:
    await _configure(session, {"type": "server_vad"})
    disposed = asyncio.Event()
    flowing = asyncio.Event()
    live = reactivex.interval(0.02, scheduler=LoopScheduler.current()).pipe(
        rx_ops.do_action(lambda index: flowing.set() if index >= 5 else None),
        rx_ops.map(lambda _: PCM16.silence(960)),
        rx_ops.finally_action(disposed.set),
    )
    sender = rr.audio.send_audio(session, live)
    await asyncio.wait_for(flowing.wait(), 10)
    await session.close()
    statistics = await asyncio.wait_for(sender.wait(), 10)
    assert statistics.reason == "closed" and statistics.appends >= 1
    await asyncio.wait_for(disposed.wait(), 10)  # the source (a microphone) was let go


async def test_dispose_stops_sending(session: rr.RealtimeSession) -> None:
    live: Subject[bytes] = Subject()
    sender = rr.audio.send_audio(session, live)
    live.on_next(PCM16.silence(960))
    await sender.aclose()
    live.on_next(PCM16.silence(960))
    assert sender.done and sender.statistics().reason == "disposed"
    assert not live.observers
