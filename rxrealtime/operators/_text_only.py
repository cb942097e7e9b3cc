"""``text_only``: the model's words as they stream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from reactivex import Observable

from rxrealtime import events as ev

from ._core import pick

__all__ = ["text_only"]


def text_only(
    *, transcripts: bool | Literal["only"] = True
) -> Callable[[Observable[ev.ServerEvent]], Observable[str]]:
    """The model's output words as ``str`` deltas, in the order the server sent them.

    ::

        --T("Hel")--A(...)--R("lo")--T("!")--|    T: output text delta, R: audio transcript delta
        --"Hel"-------------"lo"-----"!"-----|    text_only()
        --"Hel"----------------------"!"-----|    text_only(transcripts=False)
        --------------------"lo"-------------|    text_only(transcripts="only")

    Args:
        transcripts: ``True`` (default) emits output-text deltas *and* the transcript deltas of
            audio responses, so a voice response reads like a text one; ``False`` emits
            output-text deltas only; ``"only"`` emits audio-transcript deltas only.

    Beta (``response.text.delta``, ``response.audio_transcript.delta``) and GA names behave the
    same. Empty deltas are dropped. Input-audio transcription (what the *user* said) is not the
    model's words: use :func:`transcripts`. The operator is stateless: ordering, completion and
    errors are the source's.
    """
    if transcripts not in (True, False, "only"):
        raise ValueError(f"transcripts must be True, False or 'only', not {transcripts!r}")
    wanted: tuple[type[ev.ServerEvent], ...]
    if transcripts == "only":
        wanted = (ev.ResponseOutputAudioTranscriptDelta,)
    elif transcripts:
        wanted = (ev.ResponseOutputTextDelta, ev.ResponseOutputAudioTranscriptDelta)
    else:
        wanted = (ev.ResponseOutputTextDelta,)

    def words(event: ev.ServerEvent) -> str | None:
        delta = getattr(event, "delta", None)
        return delta if isinstance(delta, str) and delta else None

    return pick(words, accepts=wanted)
