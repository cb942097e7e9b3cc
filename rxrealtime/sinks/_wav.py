"""``WavWriter``: the model's audio to WAV files, one per response or one per session."""

from __future__ import annotations

import binascii
import logging
import os
import wave
from pathlib import Path
from typing import Literal

import attrs

from rxrealtime import events as ev
from rxrealtime._compat import Observer
from rxrealtime.audio import PCM16, AudioFormat, b64, g711
from rxrealtime.operators import OutputFormatTracker

__all__ = ["WavFile", "WavWriter"]

_log = logging.getLogger("rxrealtime.sinks")


@attrs.frozen
class WavFile:
    """One file a :class:`WavWriter` wrote: where, for which response, how many frames, and at
    which rate (always PCM16 mono)."""

    path: Path
    response_id: str | None
    frames: int
    sample_rate: int = PCM16.sample_rate


class _OpenFile:
    """A PCM16 mono WAV file being written, with the odd byte carried over between chunks."""

    def __init__(self, path: Path, response_id: str | None, sample_rate: int) -> None:
        self.path = path
        self.response_id = response_id
        self.sample_rate = sample_rate
        self.carry = b""
        self.writer = wave.open(str(path), "wb")  # noqa: SIM115 - closed by close()
        self.writer.setnchannels(1)
        self.writer.setsampwidth(2)
        self.writer.setframerate(sample_rate)

    def write(self, audio: bytes, law: g711.Law | None) -> None:
        """Append ``audio``: PCM16 (``law=None``) or G.711 bytes, decoded to PCM16 here."""
        if law is not None:
            self.carry = b""  # a dangling half PCM16 sample cannot join G.711 audio
            pcm = g711.decode(audio, law)
        else:
            data = self.carry + audio
            whole = len(data) - len(data) % 2
            self.carry = data[whole:]
            pcm = data[:whole]
        if pcm:
            # writeframes (not writeframesraw) patches the header after each chunk, so the
            # file on disk is a valid WAV between chunks, even if the process dies.
            self.writer.writeframes(pcm)

    def close(self) -> WavFile:
        frames = self.writer.getnframes()
        self.writer.close()
        return WavFile(self.path, self.response_id, frames, self.sample_rate)


class WavWriter(Observer[ev.ServerEvent]):
    """Write output audio (``response.output_audio.delta``, beta ``response.audio.delta``) to WAV.

    Every file is standard PCM16 (16-bit signed little-endian) mono WAV. The deltas' format
    follows the stream, with the same rule as :func:`~rxrealtime.operators.audio_chunks`
    (:class:`~rxrealtime.operators.OutputFormatTracker`): PCM16 at 24 kHz until
    ``session.created``/``session.updated`` announces ``audio.output.format`` (beta:
    ``output_audio_format``); a ``response.created`` announcing its own format overrides it for
    that response's audio; a response keeps the format in force when it was created. The
    announcements must reach the writer: subscribe it before ``session.created``, or pin the
    format with ``format=`` (an :class:`~rxrealtime.audio.AudioFormat` such as
    ``rr.audio.PCMU``; announcements are then ignored).

    * ``audio/pcm``: written as is, at the format's rate (24 kHz), or at ``sample_rate`` if
      given (it only labels the header; nothing is resampled).
    * ``audio/pcmu`` / ``audio/pcma`` (G.711): each byte is decoded to one PCM16 sample
      (:mod:`rxrealtime.audio.g711`, bit-exact with ``audioop.ulaw2lin``/``alaw2lin``) and the file
      is written at the format's rate, 8 kHz, whatever ``sample_rate`` says.

    ``path`` is a template formatted with ``{response_id}`` and ``{index}`` (0, 1, … in the
    order files are opened):

    * ``per="response"`` (default): one file per response, opened at its first audio delta and
      finalised at its ``response.done``. The template must contain ``{response_id}`` or
      ``{index}``. Interleaved responses (out-of-band ones) each get their own file.
    * ``per="session"``: one file for the whole stream, opened at the first audio delta (a
      stream without audio writes no file), finalised when the stream ends.

    A WAV file has one sample rate, so audio is never resampled into a file: when audio arrives
    at another rate than its open file's (a ``session.update`` from ``audio/pcm`` to
    ``audio/pcmu`` between two responses of a ``per="session"`` writer), that file is finalised
    and a new one is opened, named by the template with the next ``{index}``. Switching between
    µ-law and A-law (both 8 kHz) keeps the file. A new file never overwrites one the writer
    already wrote: when the template gives a path used before (it has no ``{index}``),
    ``-{index}`` is added before the suffix (``session.wav``, then ``session-1.wav``).

    Files are valid WAV at all times: the header is patched after every chunk and finalised
    when the file is closed: at ``response.done``, ``on_completed``, ``on_error``, and on
    ``dispose()``/``close()``. A delta that is not valid base64 is skipped and logged as a
    warning on ``rxrealtime.sinks`` (counted in ``skipped``), never raised.

    Threads: ``on_next`` runs on the caller's thread (the event loop's for a live session); each
    chunk is one small buffered write (and, for G.711, a table lookup per byte), so the sink
    runs inline on the loop.

    :attr:`files` lists the finished files in the order they were closed.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        per: Literal["response", "session"] = "response",
        sample_rate: int | None = None,
        format: AudioFormat | None = None,
    ) -> None:
        super().__init__()
        if per not in ("response", "session"):
            raise ValueError(f"per must be 'response' or 'session', not {per!r}")
        template = os.fspath(path)
        try:
            first, second = (
                template.format(response_id=r, index=i) for r, i in (("a", 0), ("b", 1))
            )
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"bad WAV path template {template!r}: only {{response_id}} and {{index}} may "
                f"appear in braces ({exc})"
            ) from None
        if per == "response" and first == second:
            raise ValueError(
                f"per='response' needs {{response_id}} or {{index}} in the path, got {template!r}"
            )
        if sample_rate is not None and sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, not {sample_rate}")
        if format is not None and not isinstance(format, AudioFormat):
            raise TypeError(f"format must be an AudioFormat or None, not {format!r}")
        self._template = template
        self._per = per
        self._sample_rate = sample_rate
        self._formats = OutputFormatTracker(format)
        self._open: dict[str | None, _OpenFile] = {}
        self._opened = 0
        self._paths: set[Path] = set()
        self.files: list[WavFile] = []
        self.skipped = 0

    def close(self) -> None:
        """Finalise every open file; idempotent. Later events are ignored."""
        self.is_stopped = True
        self._formats.clear()
        open_files, self._open = self._open, {}
        for handle in open_files.values():
            self.files.append(handle.close())

    def dispose(self) -> None:
        self.close()

    def _on_next_core(self, value: ev.ServerEvent) -> None:
        self._formats.observe(value)
        if isinstance(value, ev.ResponseOutputAudioDelta):
            try:
                audio = b64.decode(value.delta)
            except (binascii.Error, ValueError, TypeError):
                self.skipped += 1
                _log.warning(
                    "WavWriter: skipped an audio delta that is not base64 (%s)", value.event_id
                )
                return
            fmt = self._formats.format_for(value.response_id)
            law = fmt.law
            rate = self._sample_rate if law is None and self._sample_rate else fmt.sample_rate
            self._file_for(value.response_id, rate).write(audio, law)
        elif isinstance(value, ev.ResponseDone) and self._per == "response":
            response_id = getattr(value.response, "id", None)
            handle = self._open.pop(response_id, None)
            if handle is not None:
                self.files.append(handle.close())

    def _on_completed_core(self) -> None:
        self.close()

    def _on_error_core(self, error: Exception) -> None:
        self.close()

    def _file_for(self, response_id: str | None, sample_rate: int) -> _OpenFile:
        key = response_id if self._per == "response" else None
        handle = self._open.get(key)
        if handle is not None and handle.sample_rate == sample_rate:
            return handle
        if handle is not None:  # the rate changed: finish this file, go on in a new one
            self.files.append(handle.close())
        index = self._opened
        path = Path(self._template.format(response_id=response_id or "", index=index))
        if path in self._paths:  # never overwrite a file this writer wrote
            path = path.with_name(f"{path.stem}-{index}{path.suffix}")
        self._opened += 1
        self._paths.add(path)
        handle = self._open[key] = _OpenFile(path, response_id, sample_rate)
        return handle
