"""G.711 (``audio/pcmu``, ``audio/pcma``) in the embedded server: the codec, then output and
input audio in those formats through the official SDK, strictly validated."""

from __future__ import annotations

import base64
import hashlib
import math
from array import array
from typing import Any

import pytest
from _server_support import Client, audio_of

from rxrealtime.server import decode_tones, encode_text
from rxrealtime.server.audio import duration_ms, silence
from rxrealtime.server.g711 import (
    PCM16,
    PCMA,
    PCMU,
    Codec,
    alaw_decode,
    alaw_encode,
    codec_for,
    downsample_24k_to_8k,
    ulaw_decode,
    ulaw_encode,
    upsample_8k_to_24k,
)
from rxrealtime.server.responses import pieces

G711 = [pytest.param(PCMU, id="pcmu"), pytest.param(PCMA, id="pcma")]
EVERY_SAMPLE = array("h", range(-32768, 32768)).tobytes()


def _pcm(samples: list[int]) -> bytes:
    return array("h", samples).tobytes()


def _samples(pcm: bytes) -> list[int]:
    return array("h", pcm).tolist()


def _sine(freq: float, rate: int, count: int, amplitude: float = 8000) -> bytes:
    step = 2 * math.pi * freq / rate
    return _pcm([round(amplitude * math.sin(step * n)) for n in range(count)])


def _spoken_ms(text: str) -> int:
    return int(duration_ms(encode_text(text)))


# -- the codec ---------------------------------------------------------------------------------


def test_reference_code_values() -> None:
    assert ulaw_encode(_pcm([0, 32767, -32768, 1000, -1000])) == bytes(
        [0xFF, 0x80, 0x00, 0xCE, 0x4E]
    )
    assert alaw_encode(_pcm([0, 32767, -32768, 1000, -1000])) == bytes(
        [0xD5, 0xAA, 0x2A, 0xFA, 0x7A]
    )
    assert _samples(ulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00]))) == [0, 0, 32124, -32124]
    assert _samples(alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A]))) == [8, -8, 32256, -32256]


def test_whole_tables_match_the_reference_implementation() -> None:
    # SHA-256 of the encoding of every 16-bit sample and the decoding of every code byte, as
    # produced by CPython's audioop (lin2ulaw/ulaw2lin/lin2alaw/alaw2lin, the Sun G.711 code),
    # recorded once on Python 3.11: the codec is bit-exact with it.
    digests = [
        hashlib.sha256(data).hexdigest()[:16]
        for data in (
            ulaw_encode(EVERY_SAMPLE),
            ulaw_decode(bytes(range(256))),
            alaw_encode(EVERY_SAMPLE),
            alaw_decode(bytes(range(256))),
        )
    ]
    assert digests == [
        "81d633c9e6972a18",
        "3dab54339e520bb2",
        "38488f6fd710f468",
        "e04788d110e58ff8",
    ]


@pytest.mark.parametrize(
    ("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)]
)
def test_round_trip_is_within_quantisation_error(encode: Any, decode: Any) -> None:
    original = _samples(EVERY_SAMPLE)
    back = _samples(decode(encode(EVERY_SAMPLE)))
    assert len(back) == len(original)
    # 4-bit mantissa per segment: half a step is at most 1/32 of the value, plus the lowest
    # segment's step and the 13/14-bit input truncation
    assert all(abs(x - y) <= abs(x) / 32 + 8 for x, y in zip(original, back, strict=True))
    assert back == sorted(back)  # monotonic
    assert decode(encode(_pcm(back))) == _pcm(back)  # decoded levels are fixed points


def test_resampling_keeps_durations_and_signal() -> None:
    amplitude, step = 8000, 2 * math.pi * 1000 / 24000  # a 1 kHz sine, 100 ms
    tone = _pcm([round(amplitude * math.sin(step * n)) for n in range(2400)])
    narrow = _samples(downsample_24k_to_8k(tone))
    assert len(narrow) == 800
    # each output is the mean of 3 inputs: the sine at the middle one, 2.3 % quieter at 1 kHz
    middle = [amplitude * math.sin(step * (3 * n + 1)) for n in range(800)]
    assert max(abs(a - b) for a, b in zip(narrow, middle, strict=True)) < 250
    assert _samples(downsample_24k_to_8k(_pcm([3, 6, 9, 10, 20]))) == [6, 15]  # partial group

    wide = _samples(upsample_8k_to_24k(_pcm([round(a) for a in middle])))
    assert len(wide) == 2400
    # linear interpolation, 2 samples late: within (ωh)²/8 of the sine, ωh = π/4 at 1 kHz
    later = [amplitude * math.sin(step * (n - 1)) for n in range(2, 2400)]
    assert max(abs(a - b) for a, b in zip(wide[2:], later, strict=True)) < 650
    assert _samples(upsample_8k_to_24k(_pcm([30, 0]), previous=-30)) == [-10, 10, 30, 20, 10, 0]


def test_codec_lookup() -> None:
    assert codec_for(None) is PCM16
    assert codec_for({"type": "audio/pcm", "rate": 24000}) is PCM16
    assert codec_for({"type": "audio/pcmu"}) is PCMU and codec_for({"type": "audio/pcma"}) is PCMA
    for bad in ({"type": "audio/opus"}, {}, "audio/pcmu"):
        with pytest.raises(ValueError, match="unsupported audio format"):
            codec_for(bad)
    assert (PCM16.bytes_per_ms, PCMU.bytes_per_ms, PCMA.sample_rate) == (48, 8, 8000)
    pcm = encode_text("ok")
    assert PCM16.encode(pcm) == pcm and PCM16.decode(pcm) == pcm


@pytest.mark.parametrize("codec", G711)
def test_tone_code_survives_the_codec(codec: Codec) -> None:
    text = "the quick brown fox 0123456789 .,?!'-+*/=:%()"
    pcm = silence(20) + encode_text(text) + silence(20)
    wire = codec.encode(pcm)
    assert codec.duration_ms(wire) == duration_ms(pcm)
    assert decode_tones(codec.decode(wire)) == text
    # chunked like deltas and appends: the same bytes, the stream decoder matches the whole
    chunks = [codec.encode(pcm[offset : offset + 9600]) for offset in range(0, len(pcm), 9600)]
    assert b"".join(chunks) == wire
    decoder = codec.decoder()
    streamed = b"".join(decoder.feed(wire[n : n + 333]) for n in range(0, len(wire), 333))
    assert streamed == codec.decode(wire)


# -- the server --------------------------------------------------------------------------------


async def _update(client: Client, session: dict[str, Any]) -> dict[str, Any]:
    await client.send({"type": "session.update", "session": {"type": "realtime", **session}})
    event = (await client.until("session.updated"))[-1]
    return dict(event["session"])


def _deltas(events: list[dict[str, Any]]) -> list[bytes]:
    return [
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    ]


def _transcript(events: list[dict[str, Any]]) -> str:
    done = next(e for e in events if e["type"] == "response.output_audio_transcript.done")
    return str(done["transcript"])


@pytest.mark.parametrize("codec", G711)
async def test_session_output_format_is_honoured(client: Client, codec: Codec) -> None:
    fmt = {"type": codec.type}
    session = await _update(client, {"audio": {"output": {"format": fmt}}})
    assert session["audio"]["output"]["format"] == fmt
    await client.create_text("hello")
    await client.send({"type": "response.create"})
    events = await client.until("response.done")

    transcript = _transcript(events)
    assert transcript == "Hello! How can I help you today?"
    deltas = _deltas(events)
    # chunked as PCM16 would be: per word, deltas of at most 200 ms
    pcm16_ms = [
        min(200, _spoken_ms(piece) - start)
        for piece in pieces(transcript)
        for start in range(0, _spoken_ms(piece), 200)
    ]
    assert [PCMU.duration_ms(delta) for delta in deltas] == pcm16_ms
    wire = b"".join(deltas)
    assert len(wire) == _spoken_ms(transcript) * 8  # 8 kHz, one byte per sample
    pcm = codec.decode(wire)
    assert decode_tones(pcm) == transcript.lower()
    # the bytes really are this law: read as the other law they are no longer tone code
    other = PCMA if codec is PCMU else PCMU
    assert decode_tones(other.decode(wire)) != transcript.lower()

    response = events[-1]["response"]
    assert response["audio"]["output"]["format"] == fmt
    assert response["usage"]["output_token_details"]["audio_tokens"] == -(
        -_spoken_ms(transcript) // 50
    )


async def test_response_output_format_overrides_the_session(client: Client) -> None:
    await client.create_text("hello")
    await client.send(
        {
            "type": "response.create",
            "response": {"audio": {"output": {"format": {"type": "audio/pcmu"}}}},
        }
    )
    events = await client.until("response.done")
    assert events[-1]["response"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}
    wire = b"".join(_deltas(events))
    assert len(wire) == _spoken_ms(_transcript(events)) * 8
    assert decode_tones(PCMU.decode(wire)) == _transcript(events).lower()

    await client.create_text("hello")
    await client.send({"type": "response.create"})
    events = await client.until("response.done")
    assert events[-1]["response"]["audio"]["output"]["format"] == {
        "type": "audio/pcm",
        "rate": 24000,
    }
    pcm = audio_of(events)
    assert len(pcm) == _spoken_ms(_transcript(events)) * 48
    assert decode_tones(pcm) == _transcript(events).lower()


async def test_pcmu_input_with_server_vad_and_transcription(client: Client) -> None:
    pcmu = {"type": "audio/pcmu"}
    await _update(
        client,
        {
            "audio": {
                "input": {
                    "format": pcmu,
                    "transcription": {"model": "gpt-4o-mini-transcribe"},
                    "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
                },
                "output": {"format": pcmu},
            }
        },
    )
    words = encode_text("what is the weather in paris")
    wire = PCMU.encode(silence(500) + words + silence(600))
    for offset in range(0, len(wire), 777):  # chunks that split 8 kHz frames and VAD frames
        chunk = base64.b64encode(wire[offset : offset + 777]).decode()
        await client.send({"type": "input_audio_buffer.append", "audio": chunk})
    events = await client.until("response.done")
    started, stopped = events[0], events[1]
    assert started["type"] == "input_audio_buffer.speech_started"
    assert stopped["type"] == "input_audio_buffer.speech_stopped"
    assert started["audio_start_ms"] == 200  # onset at 500 ms minus 300 ms prefix padding
    last_tone_end = 500 + duration_ms(words) - 10
    assert last_tone_end + 300 <= stopped["audio_end_ms"] <= last_tone_end + 310
    completed = next(
        e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed"
    )
    assert completed["transcript"] == "what is the weather in paris"

    # the stored item comes back in the input format
    await client.send({"type": "conversation.item.retrieve", "item_id": started["item_id"]})
    item = (await client.until("conversation.item.retrieved"))[-1]["item"]
    stored = base64.b64decode(item["content"][0]["audio"])
    assert len(stored) == stopped["audio_end_ms"] * 8  # everything up to the stop
    assert decode_tones(PCMU.decode(stored)) == "what is the weather in paris"


async def test_pcma_items_and_commit_read_the_input_format(client: Client) -> None:
    await _update(
        client,
        {
            "audio": {
                "input": {
                    "format": {"type": "audio/pcma"},
                    "transcription": {"model": "gpt-4o-mini-transcribe"},
                    "turn_detection": None,
                }
            }
        },
    )
    audio = base64.b64encode(PCMA.encode(encode_text("hello there"))).decode()
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "audio": audio}],
            },
        }
    )
    done = await client.until("conversation.item.input_audio_transcription.completed")
    assert done[-1]["transcript"] == "hello there"

    # 50 ms of A-law is 400 bytes: the commit error reports the real duration
    fifty_ms = base64.b64encode(PCMA.encode(silence(50))).decode()
    await client.send({"type": "input_audio_buffer.append", "audio": fifty_ms})
    await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_c"})
    error = (await client.until("error"))[-1]["error"]
    assert error["code"] == "input_audio_buffer_commit_empty" and error["event_id"] == "evt_c"
    assert "buffer only has 50.00ms of audio" in error["message"]


async def test_truncate_bounds_in_pcmu(client: Client) -> None:
    await _update(client, {"audio": {"output": {"format": {"type": "audio/pcmu"}}}})
    await client.create_text("hello")
    await client.send({"type": "response.create"})
    events = await client.until("response.done")
    item = events[-1]["response"]["output"][0]
    total = int(PCMU.duration_ms(b"".join(_deltas(events))))
    assert total == _spoken_ms(_transcript(events)) > 1000

    async def truncate(end_ms: int) -> dict[str, Any]:
        await client.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item["id"],
                "content_index": 0,
                "audio_end_ms": end_ms,
            }
        )
        return dict((await client.until("conversation.item.truncated"))[-1])

    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item["id"],
            "content_index": 0,
            "audio_end_ms": total + 1,
        }
    )
    error = (await client.until("error"))[-1]["error"]
    assert error["message"] == f"Audio content of {total}ms is already shorter than {total + 1}ms"

    assert (await truncate(500))["audio_end_ms"] == 500
    await client.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
    retrieved = (await client.until("conversation.item.retrieved"))[-1]["item"]
    kept = base64.b64decode(retrieved["content"][0]["audio"])
    assert len(kept) == 500 * 8  # returned in the output format
    assert retrieved["content"][0]["transcript"] == "Hello! How "
    assert decode_tones(PCMU.decode(kept)) == "hello! how c"  # 20 ms of the "c" burst is kept

    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item["id"],
            "content_index": 0,
            "audio_end_ms": total,
        }
    )
    error = (await client.until("error"))[-1]["error"]
    assert error["message"] == f"Audio content of 500ms is already shorter than {total}ms"


@pytest.mark.parametrize(
    ("event", "param"),
    [
        (
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"output": {"format": {"type": "audio/opus"}}},
                },
            },
            "session.audio.output.format.type",
        ),
        (
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"input": {"format": "audio/pcmu"}}},
            },
            "session.audio.input.format",
        ),
        (
            {
                "type": "response.create",
                "response": {"audio": {"output": {"format": {"type": "g711_ulaw"}}}},
            },
            "response.audio.output.format.type",
        ),
    ],
)
async def test_unsupported_formats_are_rejected(
    client: Client, event: dict[str, Any], param: str
) -> None:
    await client.send({**event, "event_id": "evt_f"})
    error = (await client.until("error"))[-1]["error"]
    assert error["param"] == param and error["event_id"] == "evt_f"
    assert error["code"] in ("invalid_value", "invalid_type")
    # nothing changed: the session still speaks PCM16
    session = await _update(client, {})
    assert session["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
