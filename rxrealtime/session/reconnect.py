"""Opt-in reconnection: the policy, the markers a reconnect puts in the stream, and the state
that lets a new connection continue the old one.

Sans-I/O: this module only decides and remembers; :mod:`rxrealtime.session.live` does the
I/O::

    policy = ReconnectPolicy(max_attempts=5, replay_items=True, recycle_after=55 * 60)
    async with rxrealtime.connect(model, reconnect=policy) as session:
        ...

What a reconnect does (see :class:`~rxrealtime.session.RealtimeSession`)
    When the connection closes with a recoverable code (:data:`RECOVERABLE_CLOSE_CODES`: 1001,
    1005, 1006, 1011, 1012, 1013, 1015 — never 1000, 3000, 4000 or any other application code)
    and this side did not ask for the close, the session sleeps
    ``min(initial_delay * 2**(attempt-1), max_delay) * uniform(*jitter)`` and opens a new
    connection with the same URL and headers; it re-sends the session configuration (every
    ``session.update`` sent through ``send()`` or the typed helpers, deep-merged, as one
    ``session.update``) and, with ``replay_items=True``, re-creates the conversation items seen
    so far (see :class:`Continuity`). Every delay is at least :data:`MIN_RECONNECT_DELAY`, so
    even ``initial_delay=0`` opens at most 20 connections a second. Then, before the first
    event of the new connection, the
    stream carries one :class:`ResponseInterrupted` per response that was still running (a
    ``response.done`` subclass: every per-response operator ends that response and releases its
    state) and one :class:`Reconnected` marker. ``session.events`` stays the same Observable:
    subscribers do not resubscribe. Sends made while reconnecting wait and go to the new
    connection. Every attempt counts (refused, timed out, or a connection that dropped again);
    the counter resets only when a connection has stayed open ``stable_after`` seconds (10 by
    default) before it dropped, never on what a server *says*: a server that accepts, sends
    ``session.created`` (or anything else) and drops can never make the retries unbounded.
    When ``max_attempts`` attempts fail the stream errors with
    :class:`~rxrealtime.errors.ReconnectFailedError`.

Planned recycling (``recycle_after``)
    The service ends a session after 60 minutes. With ``recycle_after=S`` the session opens a
    new connection once the current one is ``S`` seconds old *and* no response is running,
    restores it as above, switches sends to it, then closes the old one with 1000 after
    delivering every event it still had; the stream carries ``Reconnected(recycled=True)``
    between the two. Audio appended but not committed on the old connection is not carried
    over; without ``replay_items=True`` the new conversation starts empty.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, dataclass_transform

import attrs
import orjson

from rxrealtime import events as ev

__all__ = [
    "MIN_RECONNECT_DELAY",
    "RECOVERABLE_CLOSE_CODES",
    "Continuity",
    "ReconnectPolicy",
    "Reconnected",
    "ResponseInterrupted",
    "deep_merge",
    "replayable_item",
]

_E = TypeVar("_E", bound=ev.ServerEvent)

RECOVERABLE_CLOSE_CODES: frozenset[int] = frozenset({1001, 1005, 1006, 1011, 1012, 1013, 1015})
"""Close codes after which a reconnect may succeed (as the official SDK: going away, no status,
abnormal closure, server error, service restart, try again later, TLS failure)."""


MIN_RECONNECT_DELAY: float = 0.05
"""The shortest wait before any reconnect attempt, whatever the policy says (seconds): at most
20 connections a second against a server that accepts and drops at once."""


def _check_jitter(_: object, __: object, value: tuple[float, float]) -> None:
    low, high = value
    if not 0 < low <= high:
        raise ValueError(f"jitter must be (low, high) with 0 < low <= high, got {value!r}")


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(attrs.field,))
def _marker(cls: type[_E]) -> type[_E]:
    """An event class made here, in the events layer's one style (frozen, slotted,
    keyword-only, the compact ``repr`` of :class:`~rxrealtime.events.Model`)."""
    return attrs.frozen(cls, kw_only=True, repr=False)


def _positive(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class ReconnectPolicy:
    """How to reconnect (see the module docstring). Immutable; share it between sessions.

    Args:
        max_attempts: attempts before giving up (the counter resets once a connection has
            stayed open ``stable_after`` seconds).
        initial_delay: seconds before the first attempt; doubled at each further attempt
            (every delay is at least :data:`MIN_RECONNECT_DELAY`).
        max_delay: the cap of the doubling.
        jitter: the delay is multiplied by ``uniform(low, high)``.
        replay_items: re-create the conversation items seen so far on the new connection.
        recycle_after: seconds after which a connection is replaced proactively at a quiet
            moment (``None``: never).
        stable_after: seconds a connection must have stayed open for its drop to start a new
            budget of ``max_attempts`` (default 10).
    """

    max_attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    initial_delay: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=8.0, validator=attrs.validators.ge(0))
    jitter: tuple[float, float] = attrs.field(default=(0.75, 1.0), validator=_check_jitter)
    replay_items: bool = False
    recycle_after: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(_positive)
    )
    stable_after: float = attrs.field(default=10.0, validator=_positive)

    def delay(
        self, attempt: int, uniform: Callable[[float, float], float] = random.uniform
    ) -> float:
        """Seconds to wait before attempt number ``attempt`` (1-based); never less than
        :data:`MIN_RECONNECT_DELAY`."""
        base = min(self.initial_delay * 2 ** max(0, attempt - 1), self.max_delay)
        low, high = self.jitter
        return max(MIN_RECONNECT_DELAY, float(base * uniform(low, high)))

    @staticmethod
    def recoverable(code: int) -> bool:
        """Whether a close with ``code`` may be retried."""
        return code in RECOVERABLE_CLOSE_CODES


@_marker
class Reconnected(ev.ServerEvent):
    """Marker: from the next event on, the stream comes from a new connection.

    ``attempt`` is the attempt that succeeded (0 for a planned recycle); ``close_code`` and
    ``close_reason`` say how the previous connection ended (``None`` for a recycle);
    ``interrupted_responses`` are the ids of the responses ended by :class:`ResponseInterrupted`
    just before this marker; ``replayed_items`` how many items were re-created. Never sent by a
    server; ``event_id`` is ``None``.
    """

    type: str = "rxrealtime.reconnected"
    attempt: int = 0
    close_code: int | None = None
    close_reason: str | None = None
    recycled: bool = False
    interrupted_responses: tuple[str, ...] = ()
    replayed_items: int = 0


@_marker
class ResponseInterrupted(ev.ResponseDone):
    """A synthetic ``response.done`` for a response cut off by a reconnect.

    Its ``response`` has the id, ``status="failed"`` and ``status_details`` with
    ``reason="connection_lost"``; its ``event_id`` is ``None``. Because it *is* a
    :class:`~rxrealtime.events.ResponseDone`, every operator that tracks responses
    (``responses``, ``per_response``, ``accumulate_deltas``, ``tool_calls``, ``audio_chunks``,
    ``latency``, …) ends the response and releases its state. Test ``isinstance(e,
    ResponseInterrupted)`` to tell it from a real one.
    """

    close_code: int | None = None

    @classmethod
    def for_response(cls, response_id: str, close_code: int | None) -> ResponseInterrupted:
        return cls(
            response=ev.Response(
                id=response_id,
                status="failed",
                status_details=ev.ResponseStatusDetails(type="failed", reason="connection_lost"),
            ),
            close_code=close_code,
        )


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``update``; nested mappings are merged, anything else replaced."""
    merged = dict(base)
    for key, value in update.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = value
    return merged


_ITEM_FIELDS = {
    "function_call": ("name", "call_id", "arguments"),
    "function_call_output": ("call_id", "output"),
}


def _replayable_part(part: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind in ("input_text", "output_text") and isinstance(part.get("text"), str):
        return {"type": kind, "text": part["text"]}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        return {"type": kind, "image_url": part["image_url"]}
    transcript = part.get("transcript")
    if kind in ("input_audio", "output_audio") and isinstance(transcript, str) and transcript:
        # the audio itself is not kept: the words stand in for it
        return {
            "type": "input_text" if kind == "input_audio" else "output_text",
            "text": transcript,
        }
    return None


def replayable_item(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``conversation.item.create`` form of an item the server reported, or ``None``.

    Messages keep their role and their text parts; audio parts become text parts holding their
    transcript (parts without one are left out; a message left empty is not replayed);
    function calls and their outputs are kept; other item kinds are not replayed.
    """
    kind = item.get("type")
    out: dict[str, Any] = {"type": kind}
    if isinstance(item.get("id"), str):
        out["id"] = item["id"]
    if kind in _ITEM_FIELDS:
        for name in _ITEM_FIELDS[kind]:
            if isinstance(item.get(name), str):
                out[name] = item[name]
        return out if all(k in out for k in _ITEM_FIELDS[kind] if k != "call_id") else None
    if kind != "message" or item.get("role") not in ("user", "assistant", "system"):
        return None
    content = item.get("content")
    parts = [
        p for p in (content if isinstance(content, list | tuple) else ()) if isinstance(p, Mapping)
    ]
    replayed = [r for r in map(_replayable_part, parts) if r is not None]
    if not replayed:
        return None
    out.update(role=item["role"], content=replayed)
    return out


class Continuity:
    """What a new connection needs to continue the old one (one per session, on its loop).

    * :meth:`sent` sees each client frame sent; ``session.update`` frames are merged into
      :attr:`session_config`.
    * :meth:`observe` sees each server event: it tracks the running responses
      (``response.created`` → ``response.done``) and, when ``track_items`` is true, the
      conversation items in order (``conversation.item.done``; deletions remove, input-audio
      transcriptions fill in the words). Memory is bounded by the conversation itself, and
      nothing is kept when ``track_items`` is false.
    """

    def __init__(self, *, track_items: bool) -> None:
        self.track_items = track_items
        self.session_config: dict[str, Any] | None = None
        self.active_responses: dict[str, None] = {}
        self.items: dict[str, dict[str, Any]] = {}

    def sent(self, kind: object, frame: str) -> None:
        if kind != "session.update":
            return
        try:
            session = orjson.loads(frame).get("session")
        except (orjson.JSONDecodeError, AttributeError):
            return
        if isinstance(session, Mapping):
            self.session_config = deep_merge(self.session_config or {}, session)

    def observe(self, event: ev.ServerEvent) -> None:
        kind = type(event)
        if kind is ev.ResponseCreated:
            response = event.response  # type: ignore[attr-defined]
            if response is not None and response.id:
                self.active_responses[response.id] = None
        elif isinstance(event, ev.ResponseDone):
            if event.response is not None and event.response.id:
                self.active_responses.pop(event.response.id, None)
        elif self.track_items:
            self._observe_item(event)

    def _observe_item(self, event: ev.ServerEvent) -> None:
        if isinstance(event, ev.ConversationItemDone) and event.item is not None:
            wire = ev.to_dict(event.item)
            item_id = wire.get("id")
            if isinstance(item_id, str):
                self.items.pop(item_id, None)
                self.items[item_id] = wire
        elif isinstance(event, ev.ConversationItemDeleted):
            self.items.pop(event.item_id, None)
        elif isinstance(event, ev.ConversationItemInputAudioTranscriptionCompleted):
            known = self.items.get(event.item_id)
            parts = known.get("content") if known is not None else None
            if isinstance(parts, list) and 0 <= event.content_index < len(parts):
                part = parts[event.content_index]
                if isinstance(part, dict) and not part.get("transcript"):
                    part["transcript"] = event.transcript

    def restore_frames(self) -> list[str]:
        """The client frames that rebuild this state on a new connection, in order."""
        frames: list[str] = []
        if self.session_config is not None:
            frames.append(ev.encode({"type": "session.update", "session": self.session_config}))
        for item in self.replay_items():
            frames.append(ev.encode({"type": "conversation.item.create", "item": item}))
        return frames

    def replay_items(self) -> Iterable[dict[str, Any]]:
        if not self.track_items:
            return []
        return [r for r in map(replayable_item, self.items.values()) if r is not None]

    def interrupt(self, close_code: int | None) -> list[ResponseInterrupted]:
        """Forget the running responses; return one :class:`ResponseInterrupted` for each."""
        ended = [ResponseInterrupted.for_response(rid, close_code) for rid in self.active_responses]
        self.active_responses.clear()
        return ended
