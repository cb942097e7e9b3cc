"""``usage``: running token totals by modality (and of input-audio transcription), with an
optional cost."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from reactivex import Observable

from rxrealtime import events as ev

from ._core import Clock, stateful

__all__ = ["Prices", "UsageTotals", "usage"]


def _price(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """A price is a finite, non-negative ``int`` or ``float`` (checked when ``Prices`` is made,
    so a bad table fails where it is written, not at the first ``response.done``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"Prices.{attribute.name} must be a number (per million tokens), "
            f"got {type(value).__name__} {value!r}"
        )
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"Prices.{attribute.name} must be finite and >= 0, got {value!r}")


def _optional_price(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _price(instance, attribute, value)


@attrs.frozen
class Prices:
    """Prices in any currency per one million tokens.

    Every price is a finite, non-negative number (``int`` or ``float``; ``None`` where the
    field allows it); anything else raises ``TypeError``/``ValueError`` when the table is made.

    Cached input tokens are billed at the ``cached_*`` price; ``None`` there means the full
    input price. Look the numbers up for your model: they change and are not built in.

    Input-audio transcription runs on a separate model and is billed separately: per million
    input and output tokens for a token-billed model (``transcription_input``,
    ``transcription_output``, e.g. gpt-4o-transcribe) or per minute of audio for a
    duration-billed one (``transcription_per_minute``, e.g. whisper-1). Each of these left at
    ``None`` is not priced, and the cost then *excludes* that part of the transcription usage
    (the tokens and seconds are still counted in :class:`UsageTotals`).
    """

    input_text: float = attrs.field(validator=_price)
    output_text: float = attrs.field(validator=_price)
    input_audio: float = attrs.field(default=0.0, validator=_price)
    output_audio: float = attrs.field(default=0.0, validator=_price)
    input_image: float = attrs.field(default=0.0, validator=_price)
    cached_input_text: float | None = attrs.field(default=None, validator=_optional_price)
    cached_input_audio: float | None = attrs.field(default=None, validator=_optional_price)
    cached_input_image: float | None = attrs.field(default=None, validator=_optional_price)
    transcription_input: float | None = attrs.field(default=None, validator=_optional_price)
    """Per million transcription input tokens (audio and prompt text); ``None``: not priced."""
    transcription_output: float | None = attrs.field(default=None, validator=_optional_price)
    """Per million transcription output (text) tokens; ``None``: not priced."""
    transcription_per_minute: float | None = attrs.field(default=None, validator=_optional_price)
    """Per minute of duration-billed transcribed audio; ``None``: not priced."""


@attrs.frozen
class UsageTotals:
    """Token totals over every response so far (``response.done`` usage), and, in the
    ``transcription*`` fields, over every input-audio transcription so far
    (``conversation.item.input_audio_transcription.completed`` usage).

    The response fields count the realtime model only: transcription tokens are never added to
    ``input_tokens``, ``output_tokens`` or ``total_tokens``.
    """

    responses: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_text: int = 0
    input_audio: int = 0
    input_image: int = 0
    cached_text: int = 0
    """Cached input text tokens (included in ``input_text``)."""
    cached_audio: int = 0
    cached_image: int = 0
    output_text: int = 0
    output_audio: int = 0
    cost: float | None = None
    """Total cost under the price table, or ``None`` without one. Transcription is included
    only for the parts :class:`Prices` gives a transcription price for (see
    :meth:`cost_under`)."""
    transcriptions: int = 0
    """Completed input-audio transcriptions (with or without reported usage)."""
    transcription_input_tokens: int = 0
    """Input tokens of token-billed transcriptions (audio plus prompt text)."""
    transcription_output_tokens: int = 0
    transcription_total_tokens: int = 0
    transcription_input_audio: int = 0
    """Audio share of ``transcription_input_tokens``, as reported."""
    transcription_input_text: int = 0
    """Text (prompt) share of ``transcription_input_tokens``, as reported."""
    transcription_seconds: float = 0.0
    """Seconds of audio of duration-billed transcriptions."""

    @property
    def cached_tokens(self) -> int:
        return self.cached_text + self.cached_audio + self.cached_image

    def transcription_cost_under(self, prices: Prices) -> float | None:
        """What the transcriptions cost under ``prices``, or ``None`` if it prices none of them.

        Parts without a price (``None`` in ``prices``) are left out of the sum.
        """
        rates = (
            (self.transcription_input_tokens / 1_000_000, prices.transcription_input),
            (self.transcription_output_tokens / 1_000_000, prices.transcription_output),
            (self.transcription_seconds / 60, prices.transcription_per_minute),
        )
        priced = [amount * rate for amount, rate in rates if rate is not None]
        return sum(priced) if priced else None

    def cost_under(self, prices: Prices) -> float:
        """What these tokens cost under ``prices`` (per million tokens).

        Includes the transcription usage the ``transcription_*`` prices cover; without them
        (the default) the result is the realtime model's cost alone.
        """

        def part(tokens: int, cached: int, price: float, cached_price: float | None) -> float:
            rate = price if cached_price is None else cached_price
            return (tokens - cached) * price + cached * rate

        total = (
            part(self.input_text, self.cached_text, prices.input_text, prices.cached_input_text)
            + part(
                self.input_audio, self.cached_audio, prices.input_audio, prices.cached_input_audio
            )
            + part(
                self.input_image, self.cached_image, prices.input_image, prices.cached_input_image
            )
            + self.output_text * prices.output_text
            + self.output_audio * prices.output_audio
        )
        return total / 1_000_000 + (self.transcription_cost_under(prices) or 0.0)


def _int(obj: Any, name: str) -> int:
    value = getattr(obj, name, None)
    if value is None and isinstance(obj, dict):
        value = obj.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _obj(obj: Any, name: str) -> Any:
    value = getattr(obj, name, None)
    if value is None and isinstance(obj, dict):
        value = obj.get(name)
    return value


def _field(obj: Any, name: str) -> Any:
    value = _obj(obj, name)
    if value is None:
        # fields the codec could not type (an unknown or missing ``type``, a wrong shape) are
        # kept in ``extra``
        extra = getattr(obj, "extra", None)
        if isinstance(extra, Mapping):
            value = extra.get(name)
    return value


def _count(obj: Any, name: str) -> int:
    value = _field(obj, name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _seconds(obj: Any, name: str) -> float:
    value = _field(obj, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value) if math.isfinite(value) and value > 0 else 0.0


def _add(totals: UsageTotals, reported: Any) -> UsageTotals:
    details_in = _obj(reported, "input_token_details")
    details_out = _obj(reported, "output_token_details")
    cached_details = _obj(details_in, "cached_tokens_details")
    cached_total = _int(details_in, "cached_tokens")
    cached_text = _int(cached_details, "text_tokens")
    cached_audio = _int(cached_details, "audio_tokens")
    cached_image = _int(cached_details, "image_tokens")
    if cached_total and not (cached_text or cached_audio or cached_image):
        cached_text = cached_total  # no split reported: count it as text
    return attrs.evolve(
        totals,
        responses=totals.responses + 1,
        input_tokens=totals.input_tokens + _int(reported, "input_tokens"),
        output_tokens=totals.output_tokens + _int(reported, "output_tokens"),
        total_tokens=totals.total_tokens + _int(reported, "total_tokens"),
        input_text=totals.input_text + _int(details_in, "text_tokens"),
        input_audio=totals.input_audio + _int(details_in, "audio_tokens"),
        input_image=totals.input_image + _int(details_in, "image_tokens"),
        cached_text=totals.cached_text + cached_text,
        cached_audio=totals.cached_audio + cached_audio,
        cached_image=totals.cached_image + cached_image,
        output_text=totals.output_text + _int(details_out, "text_tokens"),
        output_audio=totals.output_audio + _int(details_out, "audio_tokens"),
    )


def _add_transcription(totals: UsageTotals, reported: Any) -> UsageTotals:
    """Add one completed transcription; ``reported`` may be ``None`` or of any shape."""
    details = _field(reported, "input_token_details")
    return attrs.evolve(
        totals,
        transcriptions=totals.transcriptions + 1,
        transcription_input_tokens=totals.transcription_input_tokens
        + _count(reported, "input_tokens"),
        transcription_output_tokens=totals.transcription_output_tokens
        + _count(reported, "output_tokens"),
        transcription_total_tokens=totals.transcription_total_tokens
        + _count(reported, "total_tokens"),
        transcription_input_audio=totals.transcription_input_audio
        + _count(details, "audio_tokens"),
        transcription_input_text=totals.transcription_input_text + _count(details, "text_tokens"),
        transcription_seconds=totals.transcription_seconds + _seconds(reported, "seconds"),
    )


class _UsageCounter:
    def __init__(self, prices: Prices | None) -> None:
        self._prices = prices
        self._totals = UsageTotals()

    def step(self, event: ev.ServerEvent, emit: Callable[[UsageTotals], None]) -> None:
        if isinstance(event, ev.ConversationItemInputAudioTranscriptionCompleted):
            reported = event.usage if event.usage is not None else event.extra.get("usage")
            totals = _add_transcription(self._totals, reported)
        elif isinstance(event, ev.ResponseDone) and event.response is not None:
            reported = event.response.usage
            if reported is None:
                return
            totals = _add(self._totals, reported)
        else:
            return
        if self._prices is not None:
            totals = attrs.evolve(totals, cost=totals.cost_under(self._prices))
        self._totals = totals
        emit(totals)

    def finish(self, emit: Callable[[UsageTotals], None]) -> None:
        pass


def usage(
    prices: Prices | None = None,
) -> Callable[[Observable[ev.ServerEvent]], Observable[UsageTotals]]:
    """Running token totals: one :class:`UsageTotals` per ``response.done`` that reports usage
    and per ``conversation.item.input_audio_transcription.completed``.

    ::

        --done(r1, 10 in/5 out)--tx(40 in/6 out)--done(r2, 7 in/3 out)--tx(3.5 s)---|
        --[1 resp 10/5]----------[1 tx 40/6]------[2 resp 17/8]---------[2 tx 3.5 s]-|

    (``tx`` is ``conversation.item.input_audio_transcription.completed``; every record holds
    all the running totals, so ``[2 resp 17/8]`` still carries ``1 tx 40/6``.)

    Totals split input tokens into text, audio and image (and the cached share of each) and
    output into text and audio, as the server reports them; detail objects the server leaves out
    (or a recording truncated) count as zero. A ``response.done`` without usage emits nothing.

    Input-audio transcription runs on its own model and is kept apart, in the
    ``transcription*`` fields: the response fields never include it. Token usage adds to
    ``transcription_input_tokens`` (split into audio and text), ``transcription_output_tokens``
    and ``transcription_total_tokens``; duration usage adds to ``transcription_seconds``. A
    completed event without usage (beta frames) or with a shape the codec could not type still
    counts in ``transcriptions``, with whatever counts it carries, zero for the rest.
    ``...transcription.failed`` and deltas count nothing.

    With ``prices`` each record carries ``cost``: the realtime model's tokens (per million)
    plus the transcription usage that ``prices`` has a ``transcription_*`` price for; with
    those left at ``None`` (the default), ``cost`` excludes transcription.

    ``prices`` is checked at call time: anything but a :class:`Prices` or ``None`` raises
    ``TypeError`` here, never at the first ``response.done``.

    Guarantees: pure and per subscription (each subscriber counts from zero); every record is
    emitted synchronously on the event that changed it, in source order, and each is a new
    frozen value holding the running totals; completion and errors are the source's.
    """

    if prices is not None and not isinstance(prices, Prices):
        raise TypeError(
            "ops.usage(prices) takes an ops.Prices price table (per million tokens) or None, "
            f"got {type(prices).__name__} {prices!r}; "
            "e.g. ops.usage(ops.Prices(input_text=4.0, output_text=16.0))"
        )

    def factory(_clock: Clock) -> _UsageCounter:
        return _UsageCounter(prices)

    return stateful(factory)
