"""The one audio-format model: arithmetic, the wire's spellings, and that every layer shares it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openai.types.realtime import realtime_audio_formats as sdk_formats

import rxrealtime as rr
from rxrealtime import audio
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.audio import PCM16, PCMA, PCMU, AudioFormat

# -- the formats and their arithmetic ------------------------------------------------------------


def test_the_api_formats() -> None:
    assert (PCM16.type, PCM16.sample_rate, PCM16.bytes_per_sample) == ("audio/pcm", 24000, 2)
    assert (PCMU.type, PCMU.sample_rate, PCMU.bytes_per_sample) == ("audio/pcmu", 8000, 1)
    assert (PCMA.type, PCMA.sample_rate, PCMA.bytes_per_sample) == ("audio/pcma", 8000, 1)
    assert (PCM16.law, PCMU.law, PCMA.law) == (None, "ulaw", "alaw")
    assert dict(audio.FORMATS) == {"audio/pcm": PCM16, "audio/pcmu": PCMU, "audio/pcma": PCMA}
    assert dict(audio.BETA_NAMES) == {
        "pcm16": "audio/pcm",
        "g711_ulaw": "audio/pcmu",
        "g711_alaw": "audio/pcma",
    }


def test_the_sample_rate_defaults_to_the_types_api_rate() -> None:
    assert AudioFormat() == PCM16
    assert AudioFormat("audio/pcmu") == PCMU and AudioFormat("audio/pcma") == PCMA
    assert AudioFormat("audio/pcm", 16000).sample_rate == 16000  # other rates are kept
    assert hash(AudioFormat("audio/pcmu", 8000)) == hash(PCMU)


def test_byte_and_millisecond_arithmetic() -> None:
    assert (PCM16.bytes_per_second, PCMU.bytes_per_second) == (48000, 8000)
    assert (PCM16.bytes_per_ms, PCMU.bytes_per_ms, PCMA.bytes_per_ms) == (48, 8, 8)
    assert PCM16.ms_to_bytes(20) == 960 and PCMU.ms_to_bytes(20) == PCMA.ms_to_bytes(20) == 160
    assert PCM16.ms_to_bytes(1000) == 48000 and PCMU.ms_to_bytes(1000) == 8000
    assert PCM16.ms_to_bytes(0.03) == 0  # less than one sample
    assert PCM16.ms_to_bytes(0.05) == 2 and PCM16.ms_to_bytes(0.0833) == 2  # whole samples only
    assert PCMU.ms_to_bytes(0.125) == 1
    assert PCM16.bytes_to_ms(48) == 1.0 and PCMU.bytes_to_ms(8) == 1.0
    assert PCM16.bytes_to_ms(1) == pytest.approx(1 / 48)  # exact, not rounded
    assert PCM16.duration_ms(bytes(960)) == 20.0 and PCMA.duration_ms(b"\xd5" * 4000) == 500.0
    odd = AudioFormat("audio/pcm", 22050)
    assert odd.bytes_per_ms == 44.1 and odd.ms_to_bytes(10) == 440
    for fmt in audio.FORMATS.values():  # ms -> bytes -> ms is exact on whole milliseconds
        assert all(fmt.bytes_to_ms(fmt.ms_to_bytes(ms)) == ms for ms in range(0, 5000, 7))


def test_silence_decodes_to_zero_amplitude() -> None:
    assert PCM16.silence(4) == bytes(4)
    assert PCMU.silence(2) == b"\xff\xff" and PCMA.silence(1) == b"\xd5"
    assert PCMU.decode(PCMU.silence(80)) == bytes(480)  # 10 ms of PCM16 zeros
    assert max(audio.pcm.samples(audio.alaw_decode(PCMA.silence(80)))) == 8  # A-law's smallest


def test_bad_formats_and_values_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown audio format 'audio/flac'"):
        AudioFormat("audio/flac")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample_rate must be positive"):
        AudioFormat("audio/pcm", 0)
    with pytest.raises(ValueError, match="ms must not be negative"):
        PCM16.ms_to_bytes(-1)


# -- the wire ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"type": "audio/pcm", "rate": 24000}, PCM16),
        ({"type": "audio/pcm"}, PCM16),
        ({"type": "audio/pcmu"}, PCMU),
        ({"type": "audio/pcma", "extra": 1}, PCMA),
        ("audio/pcmu", PCMU),
        ("pcm16", PCM16),
        ("g711_ulaw", PCMU),
        ("g711_alaw", PCMA),
        ({"type": "audio/pcm", "rate": 16000}, AudioFormat("audio/pcm", 16000)),
        ({"type": "audio/pcm", "rate": 0}, PCM16),  # not a rate: the API rate
        ({"type": "audio/pcm", "rate": True}, PCM16),
        ({"type": "audio/pcm", "rate": "24000"}, PCM16),
        # the events layer's wire objects
        (ev.AudioPCM(), PCM16),
        (ev.AudioPCMU(), PCMU),
        (ev.AudioPCMA(), PCMA),
        (ev.AudioPCM(rate=None), PCM16),
        # the official SDK's models
        (sdk_formats.AudioPCM(type="audio/pcm", rate=24000), PCM16),
        (sdk_formats.AudioPCMU(type="audio/pcmu"), PCMU),
        (sdk_formats.AudioPCMA(type="audio/pcma"), PCMA),
    ],
)
def test_from_wire_reads_every_spelling(value: object, expected: AudioFormat) -> None:
    assert AudioFormat.from_wire(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "mp3",
        {"type": "audio/opus"},
        {},
        {"type": 3},
        None,
        42,
        ev.RealtimeAudioFormats(type="audio/opus"),
        ev.RealtimeAudioFormats(),
    ],
)
def test_from_wire_refuses_what_names_no_format(value: object) -> None:
    with pytest.raises(ValueError, match="audio format"):
        AudioFormat.from_wire(value)


def test_to_wire_is_the_ga_object_and_reads_back() -> None:
    assert PCM16.to_wire() == {"type": "audio/pcm", "rate": 24000}
    assert PCMU.to_wire() == {"type": "audio/pcmu"} and PCMA.to_wire() == {"type": "audio/pcma"}
    assert AudioFormat("audio/pcmu", 16000).to_wire() == {"type": "audio/pcmu", "rate": 16000}
    models: dict[str, Any] = {
        "audio/pcm": sdk_formats.AudioPCM,
        "audio/pcmu": sdk_formats.AudioPCMU,
        "audio/pcma": sdk_formats.AudioPCMA,
    }
    for fmt in audio.FORMATS.values():
        wire = fmt.to_wire()
        assert AudioFormat.from_wire(wire) == fmt
        # the official SDK accepts it, field for field
        assert models[fmt.type].model_validate(wire).model_dump(exclude_none=True) == wire
        # and the events layer decodes it to its wire class of that type
        decoded = ev.from_dict(
            {
                "type": "session.updated",
                "event_id": "e1",
                "session": {"type": "realtime", "audio": {"output": {"format": wire}}},
            }
        )
        assert isinstance(decoded, ev.SessionUpdated)
        assert isinstance(decoded.session, ev.RealtimeSessionConfig)
        assert decoded.session.audio is not None and decoded.session.audio.output is not None
        wire_object = decoded.session.audio.output.format
        assert isinstance(wire_object, ev.RealtimeAudioFormats) and wire_object.type == fmt.type
        assert AudioFormat.from_wire(wire_object) == fmt


def test_the_events_wire_class_no_longer_clashes() -> None:
    assert not hasattr(ev, "AudioFormat")
    assert issubclass(ev.AudioPCMU, ev.RealtimeAudioFormats)
    assert "RealtimeAudioFormats" in ev.__all__


# -- one model, every layer -------------------------------------------------------------------


def test_every_layer_uses_the_same_objects() -> None:
    from rxrealtime.server import g711 as server_g711

    assert rr.audio is audio and "audio" in rr.__all__
    assert ops.AudioFormat is audio.AudioFormat and ops.AudioFormatType is audio.AudioFormatType
    assert (ops.PCM16, ops.PCMU, ops.PCMA) == (PCM16, PCMU, PCMA)
    assert ops.PCMU is PCMU and server_g711.PCMU is PCMU and server_g711.Codec is AudioFormat
    assert server_g711.codec_for({"type": "audio/pcma"}) is PCMA
    assert (
        ops.announced_output_format(
            ev.from_dict(
                {
                    "type": "session.created",
                    "event_id": "e1",
                    "session": {
                        "type": "realtime",
                        "audio": {"output": {"format": PCMA.to_wire()}},
                    },
                }
            )
        )
        == PCMA
    )


CORE = Path(audio.__file__).parent
CORE_MODULES = ["__init__", "formats", "g711", "pcm"]
OPTIONAL = ("numpy", "sounddevice", "soxr")


@pytest.mark.parametrize("name", CORE_MODULES)
def test_the_core_imports_only_itself_the_standard_library_and_attrs(name: str) -> None:
    tree = ast.parse((CORE / f"{name}.py").read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    outside = {
        module
        for module in imported
        if module.split(".")[0] not in sys.stdlib_module_names
        and module != "attrs"
        and not (module == "rxrealtime.audio" or module.startswith("rxrealtime.audio."))
    }
    assert not outside, f"rxrealtime.audio.{name} imports {outside}"


def test_importing_the_package_loads_no_optional_dependency() -> None:
    code = (
        f"import sys, rxrealtime.audio\nprint(sorted(m for m in {OPTIONAL!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
