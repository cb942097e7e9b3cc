"""``python -m rxrealtime chat --voice``: a spoken turn end to end against the embedded server,
through real (null) devices; and the one-line refusal without a device."""

from __future__ import annotations

import asyncio
import io
import math
import os
import subprocess
import sys
from pathlib import Path

from voice_helpers import Pulse, audio_events, bursts_ms, heard_characters, sine

import rxrealtime as rr
from rxrealtime.audio import PCM16
from rxrealtime.audio.devices import Speaker
from rxrealtime.cli.voice_chat import _Console, level_meter
from rxrealtime.server import encode_text

REPLY = "Hello! How can I help you today?"


async def _line(stream: asyncio.StreamReader, seen: list[str], limit: float = 60.0) -> str:
    raw = await asyncio.wait_for(stream.readline(), limit)
    assert raw, f"the command ended early; it printed {seen}"
    line = raw.decode().rstrip("\n")
    seen.append(line)
    return line


async def _until_line(stream: asyncio.StreamReader, seen: list[str], prefix: str) -> str:
    while True:
        line = await _line(stream, seen)
        if line.startswith(prefix):
            return line


async def test_a_spoken_turn_end_to_end(pulse: Pulse) -> None:
    """The user's speech is played into the ``user`` sink, the command's microphone hears it
    on the monitor, the embedded server answers, and the answer plays into the ``room`` sink,
    where the test records it."""
    heard: list[bytes] = []
    recorder = rr.audio.microphone("rxr_room_monitor").subscribe(heard.append)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rxrealtime",
        "chat",
        "--voice",
        "--input-device",
        "rxr_user_monitor",
        "--output-device",
        "rxr_room",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")},
    )
    assert process.stdout is not None and process.stdin is not None and process.stderr is not None
    seen: list[str] = []
    try:
        header = await _line(process.stdout, seen)
        assert header.startswith("rxrealtime chat --voice: embedded server ws://127.0.0.1:")
        assert await _line(process.stdout, seen) == "listening"
        with Speaker("rxr_user") as mouth:  # the user, talking into the room's microphone
            await mouth.wait_ready()
            for event in audio_events(encode_text("hello") + PCM16.silence(PCM16.ms_to_bytes(600))):
                mouth.on_next(event)
            assert await _until_line(process.stdout, seen, "you: ") == "you: hello"
            assert await _until_line(process.stdout, seen, "assistant: ") == f"assistant: {REPLY}"
        spoken = PCM16.duration_ms(encode_text(REPLY)) / 1000
        await asyncio.sleep(spoken + 1.0)  # the answer plays out on the speaker
        process.stdin.close()  # end of input: leave
        status = await asyncio.wait_for(process.wait(), 30)
        errors = (await process.stderr.read()).decode()
    finally:
        recorder.dispose()
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert status == 0, errors
    assert "Traceback" not in errors
    recording = b"".join(heard)
    played = heard_characters(recording)
    assert played == "".join(REPLY.lower().split()), (errors, bursts_ms(recording))


def test_without_an_audio_device_it_says_so_in_one_line(tmp_path: Path) -> None:
    """No PulseAudio server and no sound card: one line on stderr, status 1."""
    config = tmp_path / "asound.conf"
    config.write_text("<confdir:alsa.conf>\n", encoding="utf-8")
    env = {
        **{
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OPENAI_", "PULSE_", "PYTHONASYNCIODEBUG"))
        },
        "ALSA_CONFIG_PATH": str(config),
        "HOME": str(tmp_path),
        "PULSE_SERVER": f"unix:{tmp_path / 'nothing-here'}",
        "PULSE_CLIENTCONFIG": str(tmp_path / "client.conf"),
    }
    (tmp_path / "client.conf").write_text("autospawn = no\n", encoding="utf-8")
    for extra in ([], ["--input-device", "no such microphone"]):
        done = subprocess.run(
            [sys.executable, "-m", "rxrealtime", "chat", "--voice", *extra],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith("rxrealtime chat: no audio input device")


def test_the_level_meter() -> None:
    assert level_meter(-math.inf) == "[" + " " * 20 + "]"
    assert level_meter(-30.0) == "[" + "#" * 10 + " " * 10 + "]"
    assert level_meter(0.0, width=4) == "[####]"
    assert level_meter(6.0, width=4) == "[####]"


def test_the_status_line_shows_the_microphone_level_on_a_terminal() -> None:
    """At a terminal the status line is rewritten in place with the state and the level of
    the loudest recent frame; transcript lines go above it."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    console = _Console(screen)
    console.set_state("listening")
    for _ in range(5):
        console.level(sine(20, amplitude=0.5))
    console.line("you: hello")
    shown = screen.getvalue().split("\r\x1b[2K")
    assert shown[-3].startswith("listening    [#################") and "-9.0 dBFS" in shown[-3]
    assert shown[-2] == "you: hello\n" and shown[-1].startswith("listening")


def test_the_status_is_one_line_when_not_a_terminal() -> None:
    screen = io.StringIO()
    console = _Console(screen)
    for state in ("listening", "hearing you", "thinking", "speaking", "listening"):
        console.set_state(state)
    console.level(bytes(960))
    console.line("you: hi")
    assert screen.getvalue() == "listening\nyou: hi\n"
