"""``OutputFormatTracker``: which format a response's output audio is in, following the stream.

The Realtime API never repeats the audio format on ``response.output_audio.delta``; a session
announces it instead. :func:`audio_chunks`, :func:`rechunk` and :func:`barge_in` share this one
tracker so they agree on it.
"""

from __future__ import annotations

from rxrealtime import events as ev

from ._audio_format import PCM16, AudioFormat, announced_output_format

__all__ = ["OutputFormatTracker"]


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
