"""``EventLogger``: events to the standard :mod:`logging` module, at a level per kind.

Secrets are masked exactly as the :class:`~rxrealtime.sinks.Recorder` masks them
(:func:`rxrealtime.masking.scrub`), and always *before* long strings are truncated, so no part of
a secret survives near a cut.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from rxrealtime import events as ev
from rxrealtime._compat import Observer
from rxrealtime.masking import ordered_secrets, redact, scrub

__all__ = ["EventLogger", "default_level", "summarize"]

_TRUNCATE = 500


def default_level(event: ev.ServerEvent) -> int:
    """The level :class:`EventLogger` uses unless told otherwise.

    ``error`` events → ERROR; invalid frames, ``*.failed`` events and responses that ended
    ``failed`` → WARNING; streaming deltas (``*.delta``) → DEBUG; everything else → INFO.
    """
    if isinstance(event, ev.ErrorEvent):
        return logging.ERROR
    if isinstance(event, ev.InvalidEvent):
        return logging.WARNING
    kind = event.type or ""
    if kind.endswith(".failed"):
        return logging.WARNING
    if isinstance(event, ev.ResponseDone) and getattr(event.response, "status", None) == "failed":
        return logging.WARNING
    if kind.endswith(".delta"):
        return logging.DEBUG
    return logging.INFO


def _elide(value: Any, *, audio_delta: bool) -> Any:
    if isinstance(value, Mapping):
        return {
            key: (
                f"<{len(item)} chars of base64 audio>"
                if isinstance(item, str) and (key == "audio" or (audio_delta and key == "delta"))
                else _elide(item, audio_delta=False)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_elide(item, audio_delta=False) for item in value]
    if isinstance(value, str) and len(value) > _TRUNCATE:
        return f"{value[:_TRUNCATE]}…<{len(value) - _TRUNCATE} more chars>"
    return value


def summarize(event: ev.ServerEvent, secrets: Iterable[str | None] = ()) -> str:
    """One line describing ``event``: its wire fields as compact JSON, audio payloads elided.

    Secrets are masked first, as the recorder masks them (each of ``secrets`` anywhere in a
    string, credential-named fields and ``Bearer …`` strings whole). Then base64 audio (output
    audio deltas, ``audio`` fields of items) becomes ``<N chars of base64 audio>`` and other
    strings longer than 500 characters are truncated; the ``type`` is left out (log lines carry
    it in front).
    """
    if isinstance(event, ev.InvalidEvent):
        raw = event.raw if isinstance(event.raw, str) else repr(event.raw)
        error = redact(event.error, secrets)
        return f"{error}: {_elide(scrub(raw, secrets), audio_delta=False)}"
    wire = ev.to_dict(event)
    body = scrub({key: item for key, item in wire.items() if key != "type"}, secrets)
    elided = _elide(body, audio_delta=isinstance(event, ev.ResponseOutputAudioDelta))
    return orjson.dumps(elided, default=str).decode()


class _Summary:
    """Defers :func:`summarize` until a handler actually formats the record."""

    __slots__ = ("_event", "_secrets")

    def __init__(self, event: ev.ServerEvent, secrets: tuple[str, ...]) -> None:
        self._event = event
        self._secrets = secrets

    def __str__(self) -> str:
        return summarize(self._event, self._secrets)


class EventLogger(Observer[ev.ServerEvent]):
    """Log each event on ``logger`` (default ``"rxrealtime.events"``).

    The message is ``"<type> <summary>"`` (see :func:`summarize`; audio payloads elided), the
    level comes from ``level`` (default :func:`default_level`), and the event itself is attached
    to the record as ``record.rx_event`` for structured handlers. Events below the logger's
    effective level cost one ``isEnabledFor`` check. The stream failing is logged at ERROR
    with the exception (its traceback as masked text instead when it mentions a secret);
    completing at INFO.

    Secrets: each of ``secrets`` (and the value of ``OPENAI_API_KEY`` unless
    ``scrub_env=False``) is masked in every message, as the recorder masks it, before any
    truncation; :meth:`add_secrets` adds more later.

    Threads: ``on_next`` runs on the caller's thread (the event loop's for a live session);
    handlers run there too, as with any ``logging`` call.
    """

    def __init__(
        self,
        logger: logging.Logger | str = "rxrealtime.events",
        *,
        level: Callable[[ev.ServerEvent], int] = default_level,
        secrets: Iterable[str | None] = (),
        scrub_env: bool = True,
    ) -> None:
        super().__init__()
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self._level = level
        env_key = os.environ.get("OPENAI_API_KEY") if scrub_env else None
        self._secrets = ordered_secrets([*secrets, env_key])

    def add_secrets(self, secrets: Iterable[str | None]) -> None:
        """Also mask ``secrets`` in every message logged from now on."""
        self._secrets = ordered_secrets([*secrets, *self._secrets])

    def _on_next_core(self, value: ev.ServerEvent) -> None:
        level = self._level(value)
        if self.logger.isEnabledFor(level):
            self.logger.log(
                level,
                "%s %s",
                value.type or type(value).__name__,
                _Summary(value, self._secrets),
                extra={"rx_event": value},
            )

    def _on_completed_core(self) -> None:
        self.logger.info("event stream completed")

    def _on_error_core(self, error: Exception) -> None:
        trace = "".join(traceback.format_exception(error))
        masked = redact(trace, self._secrets)
        if masked == trace:
            self.logger.error("event stream failed: %s", error, exc_info=error)
        else:  # the traceback would show a secret: log its masked text instead of exc_info
            message = redact(str(error), self._secrets)
            self.logger.error("event stream failed: %s\n%s", message, masked.rstrip())
