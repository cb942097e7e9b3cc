"""``TextPrinter``: the model's words streamed to a terminal (or any text stream)."""

from __future__ import annotations

import sys
from typing import TextIO

from rxrealtime import events as ev
from rxrealtime._compat import Observer

__all__ = ["TextPrinter"]


class TextPrinter(Observer[ev.ServerEvent]):
    """Write the model's words to ``stream`` as they arrive, one line per response.

    Output-text deltas and, with ``transcripts=True`` (default), the transcript deltas of audio
    responses are written as they come and the stream is flushed after each, so the words
    appear live. Beta and GA event names behave the same. When a response that printed
    something is done (``response.done``), or the event stream ends, a newline closes the line
    unless the text already ended with one. Other events are ignored.

    ``stream`` defaults to ``sys.stdout`` *looked up at each write*, so redirections made after
    subscribing (``contextlib.redirect_stdout``, pytest's ``capsys``) are honoured.

    Threads: ``on_next`` runs on the caller's thread (the event loop's for a live session) and
    does one small ``write`` + ``flush``; a stream that can block for long (a pipe nobody
    reads) blocks that thread.
    """

    def __init__(self, stream: TextIO | None = None, *, transcripts: bool = True) -> None:
        super().__init__()
        self._stream = stream
        self._kinds: tuple[type[ev.ServerEvent], ...] = (
            (ev.ResponseOutputTextDelta, ev.ResponseOutputAudioTranscriptDelta)
            if transcripts
            else (ev.ResponseOutputTextDelta,)
        )
        self._line_open = False

    @property
    def stream(self) -> TextIO:
        """Where the words go."""
        return self._stream if self._stream is not None else sys.stdout

    def _on_next_core(self, value: ev.ServerEvent) -> None:
        if isinstance(value, self._kinds):
            delta = getattr(value, "delta", None)
            if isinstance(delta, str) and delta:
                self._write(delta)
                self._line_open = not delta.endswith("\n")
        elif isinstance(value, ev.ResponseDone):
            self._end_line()

    def _on_completed_core(self) -> None:
        self._end_line()

    def _on_error_core(self, error: Exception) -> None:
        self._end_line()

    def _end_line(self) -> None:
        if self._line_open:
            self._write("\n")
            self._line_open = False

    def _write(self, text: str) -> None:
        stream = self.stream
        stream.write(text)
        stream.flush()
