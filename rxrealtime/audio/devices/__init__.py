"""The audio device shell: microphone and WAV sources, sending audio, the speaker sink.

::

    import rxrealtime as rr

    speaker = rr.audio.Speaker()                       # the default output device
    session.events.subscribe(speaker)                  # play the model's audio
    speaker.handle_barge_in(session)                   # truncate where the user interrupted
    sender = rr.audio.send_audio(session, rr.audio.microphone())   # talk (server VAD)

* :mod:`~rxrealtime.audio.devices.sources`: :func:`microphone`, :func:`wav_file`,
  :func:`reframe` — Observables of fixed-duration frames in a session's input format;
* :mod:`~rxrealtime.audio.devices.send`: :func:`send_audio` — frames into
  ``input_audio_buffer.append``, with push-to-talk or server-VAD turns;
* :mod:`~rxrealtime.audio.devices.speaker`: :class:`Speaker` — playback with a jitter buffer
  and a playback clock from the device, flushed on barge-in;
* :mod:`~rxrealtime.audio.devices.convert`: streaming resampling, framing, levels;
* :mod:`~rxrealtime.audio.devices.backend`: the optional libraries and device look-up.

The device libraries are the ``[voice]`` extra (``pip install 'rxrealtime[voice]'``:
``sounddevice``, ``soxr``, ``numpy``) and PortAudio (Debian/Ubuntu: ``apt-get install
libportaudio2``). Importing this package imports none of them; they load when a device is
opened or a rate converted, and their absence is an :class:`AudioDeviceError` saying what to
install. :func:`wav_file` (for a file at the format's rate) and :func:`send_audio` need none.
The names are also on :mod:`rxrealtime.audio` (``rr.audio.microphone``, ...).
"""

from __future__ import annotations

from rxrealtime.audio.devices.backend import AudioDeviceError, DeviceInfo, find_device
from rxrealtime.audio.devices.convert import FormatEncoder, Framer, PcmConverter, level_dbfs
from rxrealtime.audio.devices.send import AudioSender, AudioSendStatistics, send_audio
from rxrealtime.audio.devices.sources import microphone, reframe, wav_file
from rxrealtime.audio.devices.speaker import Speaker, SpeakerStatistics

__all__ = [
    "AudioDeviceError",
    "AudioSendStatistics",
    "AudioSender",
    "DeviceInfo",
    "FormatEncoder",
    "Framer",
    "PcmConverter",
    "Speaker",
    "SpeakerStatistics",
    "find_device",
    "level_dbfs",
    "microphone",
    "reframe",
    "send_audio",
    "wav_file",
]
