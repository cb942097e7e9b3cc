"""The optional libraries behind the device shell, loaded on first use, and device look-up.

``sounddevice`` (PortAudio), ``numpy`` and ``soxr`` come with the ``[voice]`` extra
(``pip install 'rxrealtime[voice]'``); PortAudio itself is a system library (Debian/Ubuntu:
``apt-get install libportaudio2``). Nothing here is imported when :mod:`rxrealtime` or
:mod:`rxrealtime.audio` is: every import of an optional library happens inside a function, and a
missing one becomes :class:`AudioDeviceError` with a message that says what to install (never an
``ImportError`` traceback from deep inside a stream).
"""

from __future__ import annotations

import threading
from typing import Any, Literal

import attrs

from rxrealtime.errors import RxRealtimeError

__all__ = [
    "PORTAUDIO_LOCK",
    "AudioDeviceError",
    "DeviceInfo",
    "find_device",
    "load_numpy",
    "load_sounddevice",
    "load_soxr",
]

_EXTRA = "pip install 'rxrealtime[voice]'"

PORTAUDIO_LOCK = threading.RLock()
"""Held around PortAudio calls that open, query or close devices: PortAudio's API is not
thread-safe, and devices are opened from worker threads as well as the loop's."""


class AudioDeviceError(RxRealtimeError):
    """No usable audio device, or the device libraries are missing. The message is one line
    that says what to do (install the extra or PortAudio, pick another device)."""


def load_sounddevice() -> Any:
    """The ``sounddevice`` module (which loads PortAudio on import).

    Raises:
        AudioDeviceError: ``sounddevice`` is not installed, or PortAudio is missing.
    """
    try:
        import sounddevice
    except ImportError:
        raise AudioDeviceError(f"audio devices need the [voice] extra: {_EXTRA}") from None
    except OSError:  # sounddevice raises this when the PortAudio library is not found
        raise AudioDeviceError(
            "the PortAudio library is not installed (Debian/Ubuntu: apt-get install "
            "libportaudio2; macOS: brew install portaudio)"
        ) from None
    return sounddevice


def load_numpy() -> Any:
    """The ``numpy`` module. Raises :class:`AudioDeviceError` when it is not installed."""
    try:
        import numpy
    except ImportError:
        raise AudioDeviceError(f"resampling audio needs the [voice] extra: {_EXTRA}") from None
    return numpy


def load_soxr() -> Any:
    """The ``soxr`` module. Raises :class:`AudioDeviceError` when it is not installed."""
    try:
        import soxr
    except ImportError:
        raise AudioDeviceError(f"resampling audio needs the [voice] extra: {_EXTRA}") from None
    return soxr


@attrs.frozen
class DeviceInfo:
    """One PortAudio device, as :func:`find_device` resolved it."""

    index: int
    name: str
    max_channels: int
    """Channels the device offers in the direction asked for."""
    default_samplerate: int


def find_device(kind: Literal["input", "output"], device: int | str | None) -> DeviceInfo:
    """The PortAudio ``kind`` device named by ``device``: ``None`` for the system default, an
    index, or a (sub)string of a device name as ``sounddevice`` matches it.

    Raises:
        AudioDeviceError: the libraries are missing, there is no such device, or there is no
            ``kind`` device at all.
    """
    sd = load_sounddevice()
    try:
        with PORTAUDIO_LOCK:
            found = sd.query_devices(device, kind)
    except (ValueError, sd.PortAudioError) as error:
        if device is None:
            raise AudioDeviceError(f"no audio {kind} device found") from None
        detail = " ".join(str(error).split())
        raise AudioDeviceError(f"no audio {kind} device {device!r} ({detail})") from None
    channels = int(found[f"max_{kind}_channels"])
    if channels < 1:
        raise AudioDeviceError(f"audio device {found['name']!r} has no {kind} channels")
    return DeviceInfo(
        index=int(found["index"]),
        name=str(found["name"]),
        max_channels=channels,
        default_samplerate=int(found["default_samplerate"]),
    )
