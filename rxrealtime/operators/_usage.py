"""``usage``: running token totals by modality, with an optional cost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from reactivex import Observable

from rxrealtime import events as ev

from ._core import Clock, stateful

__all__ = ["Prices", "UsageTotals", "usage"]


@attrs.frozen
class Prices:
    """Prices in any currency per one million tokens.

    Cached input tokens are billed at the ``cached_*`` price; ``None`` there means the full
    input price. Look the numbers up for your model: they change and are not built in.
    """

    input_text: float
    output_text: float
    input_audio: float = 0.0
    output_audio: float = 0.0
    input_image: float = 0.0
    cached_input_text: float | None = None
    cached_input_audio: float | None = None
    cached_input_image: float | None = None


@attrs.frozen
class UsageTotals:
    """Token totals over every response so far (``response.done`` usage)."""

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
    """Total cost under the price table, or ``None`` without one."""

    @property
    def cached_tokens(self) -> int:
        return self.cached_text + self.cached_audio + self.cached_image

    def cost_under(self, prices: Prices) -> float:
        """What these tokens cost under ``prices`` (per million tokens)."""

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
        return total / 1_000_000


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


class _UsageCounter:
    def __init__(self, prices: Prices | None) -> None:
        self._prices = prices
        self._totals = UsageTotals()

    def step(self, event: ev.ServerEvent, emit: Callable[[UsageTotals], None]) -> None:
        if not isinstance(event, ev.ResponseDone) or event.response is None:
            return
        reported = event.response.usage
        if reported is None:
            return
        totals = _add(self._totals, reported)
        if self._prices is not None:
            totals = attrs.evolve(totals, cost=totals.cost_under(self._prices))
        self._totals = totals
        emit(totals)

    def finish(self, emit: Callable[[UsageTotals], None]) -> None:
        pass


def usage(
    prices: Prices | None = None,
) -> Callable[[Observable[ev.ServerEvent]], Observable[UsageTotals]]:
    """Running token totals, one :class:`UsageTotals` per ``response.done`` that reports usage.

    ::

        --done(r1, 10 in/5 out)--done(r2, 7 in/3 out)--|
        --[1 resp 10/5]----------[2 resp 17/8]---------|

    Totals split input tokens into text, audio and image (and the cached share of each) and
    output into text and audio, as the server reports them; detail objects the server leaves out
    (or a recording truncated) count as zero. With ``prices`` (per million tokens) each record
    carries ``cost``. Completion and errors are the source's.
    """

    def factory(_clock: Clock) -> _UsageCounter:
        return _UsageCounter(prices)

    return stateful(factory)
