"""``WavWriter``: the model's audio to WAV files, one per response or one per session."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import wave
from pathlib import Path
from typing import Literal

import attrs
from reactivex import Observer

from rxrealtime import events as ev

__all__ = ["WavFile", "WavWriter"]

_log = logging.getLogger("rxrealtime.sinks")


@attrs.frozen
class WavFile:
    """One file a :class:`WavWriter` wrote: where, for which response, how many frames."""

    path: Path
    response_id: str | None
    frames: int


class _OpenFile:
    """A WAV file being written, with the odd byte carried over between chunks."""

    def __init__(self, path: Path, response_id: str | None, sample_rate: int) -> None:
        self.path = path
        self.response_id = response_id
        self.carry = b""
        self.writer = wave.open(str(path), "wb")  # noqa: SIM115 - closed by close()
        self.writer.setnchannels(1)
        self.writer.setsampwidth(2)
        self.writer.setframerate(sample_rate)

    def write(self, pcm: bytes) -> None:
        data = self.carry + pcm
        whole = len(data) - len(data) % 2
        self.carry = data[whole:]
        if whole:
            # writeframes (not writeframesraw) patches the header after each chunk, so the
            # file on disk is a valid WAV between chunks, even if the process dies.
            self.writer.writeframes(data[:whole])

    def close(self) -> WavFile:
        frames = self.writer.getnframes()
        self.writer.close()
        return WavFile(self.path, self.response_id, frames)


class WavWriter(Observer[ev.ServerEvent]):
    """Write output audio (``response.output_audio.delta``, beta ``response.audio.delta``) to WAV.

    The deltas are base64 PCM16 mono (``audio/pcm``, 24 kHz unless ``sample_rate`` says
    otherwise; G.711 sessions are not supported). ``path`` is a template formatted with
    ``{response_id}`` and ``{index}`` (0, 1, … in the order files are opened):

    * ``per="response"`` (default): one file per response, opened at its first audio delta and
      finalised at its ``response.done``. The template must contain ``{response_id}`` or
      ``{index}``. Interleaved responses (out-of-band ones) each get their own file.
    * ``per="session"``: one file for the whole stream, opened at the first audio delta (a
      stream without audio writes no file), finalised when the stream ends.

    Files are valid WAV at all times: the header is patched after every chunk and finalised
    when the file is closed: at ``response.done``, ``on_completed``, ``on_error``, and on
    ``dispose()``/``close()``. A delta that is not valid base64 is skipped and logged as a
    warning on ``rxrealtime.sinks`` (counted in ``skipped``), never raised.

    Threads: ``on_next`` runs on the caller's thread (the event loop's for a live session); each
    chunk is one small buffered write, so the sink runs inline on the loop.

    :attr:`files` lists the finished files in the order they were closed.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        per: Literal["response", "session"] = "response",
        sample_rate: int = 24000,
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
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, not {sample_rate}")
        self._template = template
        self._per = per
        self._sample_rate = sample_rate
        self._open: dict[str | None, _OpenFile] = {}
        self._opened = 0
        self.files: list[WavFile] = []
        self.skipped = 0

    def close(self) -> None:
        """Finalise every open file; idempotent. Later events are ignored."""
        self.is_stopped = True
        open_files, self._open = self._open, {}
        for handle in open_files.values():
            self.files.append(handle.close())

    def dispose(self) -> None:
        self.close()

    def _on_next_core(self, value: ev.ServerEvent) -> None:
        if isinstance(value, ev.ResponseOutputAudioDelta):
            try:
                pcm = base64.b64decode(value.delta, validate=True)
            except (binascii.Error, ValueError, TypeError):
                self.skipped += 1
                _log.warning(
                    "WavWriter: skipped an audio delta that is not base64 (%s)", value.event_id
                )
                return
            self._file_for(value.response_id).write(pcm)
        elif isinstance(value, ev.ResponseDone) and self._per == "response":
            response_id = getattr(value.response, "id", None)
            handle = self._open.pop(response_id, None)
            if handle is not None:
                self.files.append(handle.close())

    def _on_completed_core(self) -> None:
        self.close()

    def _on_error_core(self, error: Exception) -> None:
        self.close()

    def _file_for(self, response_id: str | None) -> _OpenFile:
        key = response_id if self._per == "response" else None
        handle = self._open.get(key)
        if handle is None:
            path = Path(self._template.format(response_id=response_id or "", index=self._opened))
            self._opened += 1
            handle = self._open[key] = _OpenFile(path, response_id, self._sample_rate)
        return handle
