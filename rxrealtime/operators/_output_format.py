"""Which format the model's output audio is in: :func:`announced_output_format` reads what one
server event announces, :class:`OutputFormatTracker` follows the stream.

The Realtime API never repeats the audio format on ``response.output_audio.delta``; a session
announces it instead. :func:`audio_chunks`, :func:`rechunk`, :func:`barge_in` and the
``WavWriter`` sink share this one tracker so they agree on it. The formats themselves are
:mod:`rxrealtime.audio`'s.
"""

from __future__ import annotations

import logging

from rxrealtime import events as ev
from rxrealtime.audio import PCM16, AudioFormat

__all__ = ["OutputFormatTracker", "announced_output_format"]

logger = logging.getLogger("rxrealtime.operators")


def announced_output_format(event: ev.ServerEvent) -> AudioFormat | None:
    """The output audio format ``event`` announces, or ``None`` if it announces none.

    * ``session.created`` / ``session.updated``: the session's ``audio.output.format`` (GA: an
      :class:`~rxrealtime.events.RealtimeAudioFormats` object such as ``AudioPCMU()``), else a
      beta session's ``output_audio_format`` (``"pcm16"``, ``"g711_ulaw"``, ``"g711_alaw"``);
    * ``response.created``: the response's ``audio.output.format``, else its beta
      ``output_audio_format`` — the format of that response's audio;
    * any other event: ``None``.

    A format this library does not know (``{"type": "audio/mp3"}``, a number, ...) counts as
    no announcement: ``None``, with a warning on the ``rxrealtime.operators`` logger. Never raises.
    """
    audio: ev.AudioConfig | None
    if isinstance(event, ev.SessionCreated | ev.SessionUpdated):
        holder: ev.SessionConfig | ev.Response | None = event.session
        audio = event.session.audio if isinstance(event.session, ev.RealtimeSessionConfig) else None
    elif isinstance(event, ev.ResponseCreated):
        holder = event.response
        audio = event.response.audio if event.response is not None else None
    else:
        return None
    if holder is None:
        return None
    output = audio.output if audio is not None else None
    value: object
    if output is not None and output.format is not None:
        value = output.format
    elif output is not None and "format" in output.extra:  # not an object: e.g. a bare string
        value = output.extra["format"]
    elif "output_audio_format" in holder.extra:
        value = holder.extra["output_audio_format"]
    else:
        return None
    try:
        return AudioFormat.from_wire(value)
    except ValueError:
        logger.warning("%s announces an unknown output audio format %r: ignored", event.type, value)
        return None


class OutputFormatTracker:
    """The output audio format in force, per response (sans-I/O; one per subscription).

    Following the stream (``pinned=None``):

    * the session's format starts as :data:`PCM16` (24 kHz, the service default) and becomes
      whatever a ``session.created``/``session.updated`` announces (see
      :func:`announced_output_format`); an event announcing nothing, or an unknown format,
      leaves it unchanged;
    * ``response.created`` fixes the format of that response's audio: the format the response
      announces (a per-response override), else the session's format at that moment — a
      ``session.update`` while a response streams affects later responses only. The entry is
      released on that response's ``response.done``;
    * audio of a response not seen created (the subscription started mid-response, or the
      delta has no ``response_id``) is in the session's current format.

    With ``pinned`` set, every answer is ``pinned`` and announcements are ignored.
    """

    def __init__(self, pinned: AudioFormat | None = None) -> None:
        self.pinned = pinned
        self.session_format = pinned or PCM16
        self._responses: dict[str, AudioFormat] = {}

    @property
    def open_responses(self) -> int:
        """Responses whose format is held (created, not yet done)."""
        return len(self._responses)

    def observe(self, event: ev.ServerEvent) -> None:
        """Take in ``event``; call it for every event, before using :meth:`format_for`."""
        if self.pinned is not None:
            return
        if isinstance(event, ev.SessionCreated | ev.SessionUpdated):
            self.session_format = announced_output_format(event) or self.session_format
        elif isinstance(event, ev.ResponseCreated):
            response_id = event.response.id if event.response is not None else None
            if response_id is not None:
                fmt = announced_output_format(event) or self.session_format
                self._responses[response_id] = fmt
        elif isinstance(event, ev.ResponseDone) and event.response is not None:
            self._responses.pop(event.response.id or "", None)

    def format_for(self, response_id: str | None) -> AudioFormat:
        """The format of the audio of response ``response_id``."""
        if response_id is None:
            return self.session_format
        return self._responses.get(response_id, self.session_format)

    def clear(self) -> None:
        """Forget every response (the source completed)."""
        self._responses.clear()
