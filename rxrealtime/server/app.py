"""The embedded Realtime server: HTTP upgrade checks, then one :class:`Connection` per socket.

Admission follows the live service. Wrong paths get HTTP 404 before any upgrade; everything
else is upgraded (101) and then, if refused, gets one ``error`` event and a close frame at once:

* a server started with ``api_key`` and a request whose ``Authorization: Bearer …`` (or
  ``api-key``) header is missing or different → ``invalid_api_key``, close 3000;
* ``OpenAI-Beta: realtime=v1`` → ``beta_api_shape_disabled``, close 4000;
* no ``model`` (and neither ``intent=transcription`` nor ``call_id``) → ``missing_model``, close
  4000; a model outside ``models`` (when given) → ``invalid_model``, close 4000.
"""

from __future__ import annotations

import asyncio
import http
import itertools
import logging
import time
from collections.abc import Collection, MutableMapping
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from rxrealtime.masking import mask_header
from rxrealtime.server.connection import Connection, ConnectionOptions, expires_at
from rxrealtime.server.faults import Faults
from rxrealtime.server.ids import IdFactory
from rxrealtime.server.input_audio import VAD_CLOCKS, VadClock
from rxrealtime.server.limits import MAX_FRAME_BYTES
from rxrealtime.server.model import DefaultModel, Model
from rxrealtime.server.responses import Pacing
from rxrealtime.server.session_config import realtime_session, transcription_session

__all__ = ["RealtimeServer", "serve"]

_PATH = "/v1/realtime"
_log = logging.getLogger("rxrealtime.server")
"""One INFO line per connection opened (or refused) and closed; the key only masked."""


class _Refusal(Exception):
    def __init__(self, code: str, message: str, close_code: int, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.close_code, self.param = code, message, close_code, param


def _credential(headers: Headers) -> str | None:
    authorization = headers.get("Authorization")
    if authorization is not None and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return headers.get("api-key")


class _CredentialMaskingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets logs every request header at DEBUG (``< Authorization: Bearer …``); this
    logger masks the values of the credential headers before they reach any handler."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        if len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], str):
            args = (args[0], mask_header(args[0], args[1]))
        kwargs.setdefault("stacklevel", 2)
        self.logger.log(level, msg, *args, **kwargs)

    def process(
        self, msg: object, kwargs: MutableMapping[str, Any]
    ) -> tuple[object, MutableMapping[str, Any]]:
        return msg, kwargs


def _masked(key: str) -> str:
    return (key[:3] + "*" * max(0, len(key) - 7) + key[-4:]) if len(key) > 8 else key[:2] + "**"


class RealtimeServer:
    """A running (or ready to run) embedded server; use ``async with`` or :meth:`start`/
    :meth:`stop`. Build it with :func:`serve`.

    ``host``, ``port`` (the real one when started on port 0) and ``base_url``
    (``ws://HOST:PORT/v1``, the SDK's ``websocket_base_url``) are valid once started.
    Not thread-safe: use it from the event loop it was started on.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        api_key: str | None,
        model: Model | None,
        realtime_audio: bool,
        faults: Faults | None,
        text_delta_interval: float | None,
        models: Collection[str] | None,
        seed: int | None,
        session_limit: float | None = 3600.0,
        vad_clock: VadClock | None = None,
    ) -> None:
        if session_limit is not None and not session_limit > 0:
            raise ValueError(f"session_limit must be > 0 or None, got {session_limit!r}")
        if vad_clock is not None and vad_clock not in VAD_CLOCKS:
            raise ValueError(f"vad_clock must be one of {VAD_CLOCKS} or None, got {vad_clock!r}")
        self.host = host
        self.port = port
        self._api_key = api_key
        self._models = frozenset(models) if models is not None else None
        self._faults = faults
        self._seed = seed
        interval = text_delta_interval
        if interval is None:
            interval = 0.02 if realtime_audio else 0.0
        self._options = ConnectionOptions(
            model=model if model is not None else DefaultModel(),
            pacing=Pacing(realtime_audio=realtime_audio, text_delta_interval=interval),
            faults=None,
            rate_limits_delay=0.03 if realtime_audio else 0.0,
            session_limit=session_limit,
            vad_clock=vad_clock or ("arrival" if realtime_audio else "audio"),
        )
        self._server: Server | None = None
        self._stopping = asyncio.Event()
        self._counter = itertools.count()
        self._connection_numbers: dict[ServerConnection, int] = {}
        self.connections_served = 0
        """How many WebSocket connections were upgraded so far."""

    @property
    def base_url(self) -> str:
        return f"ws://{self.host}:{self.port}/v1"

    def url(self, model: str = "gpt-realtime") -> str:
        """The full connection URL for ``model``."""
        return f"{self.base_url}/realtime?model={model}"

    async def start(self) -> None:
        """Bind and start accepting connections (binds a free port when ``port`` is 0)."""
        self._server = await ws_serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            compression=None,
            max_size=MAX_FRAME_BYTES,
            server_header=None,
            logger=_CredentialMaskingLogger(logging.getLogger("websockets.server"), {}),
        )
        sockname = self._server.sockets[0].getsockname()
        self.port = int(sockname[1])

    async def stop(self) -> None:
        """Close every connection with 1001 (going away), answer stalled handshakes with 503,
        and wait until every connection handler has returned."""
        self._stopping.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> RealtimeServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _faults_for(self, number: int) -> Faults | None:
        faults = self._faults
        if faults is None or (faults.connections is not None and number >= faults.connections):
            return None
        return faults

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        if urlsplit(request.path).path.rstrip("/") != _PATH:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")
        number = next(self._counter)
        self._connection_numbers[connection] = number
        faults = self._faults_for(number)
        if faults is not None and faults.stall_handshake:
            await self._stopping.wait()
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "Server stopping\n")
        return None

    def _admit(self, request: Request, ids: IdFactory, now: float) -> dict[str, Any]:
        """Return the new session for ``request`` (connected at unix time ``now``) or raise
        :class:`_Refusal`."""
        expires = expires_at(self._options.session_limit, now)
        headers = request.headers
        if self._api_key is not None:
            key = _credential(headers)
            if not key:
                raise _Refusal(
                    "invalid_api_key",
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    3000,
                )
            if key != self._api_key:
                raise _Refusal(
                    "invalid_api_key",
                    f"Incorrect API key provided: {_masked(key)}.",
                    3000,
                )
        if "realtime=v1" in headers.get("OpenAI-Beta", "").replace(" ", ""):
            raise _Refusal(
                "beta_api_shape_disabled",
                "The beta Realtime API shape is disabled: remove the 'OpenAI-Beta: realtime=v1' "
                "header and use the GA interface.",
                4000,
            )
        query = parse_qs(urlsplit(request.path).query)
        model = (query.get("model") or [""])[0]
        if (query.get("intent") or [""])[0] == "transcription" and not model:
            return transcription_session(ids.session(), expires)
        if not model:
            if query.get("call_id"):
                model = "gpt-realtime"
            else:
                raise _Refusal(
                    "missing_model", "Missing required parameter: 'model'.", 4000, "model"
                )
        if self._models is not None and model not in self._models:
            raise _Refusal(
                "invalid_model",
                f"Invalid model: '{model}'. Supported models are: "
                + ", ".join(sorted(self._models))
                + ".",
                4000,
                "model",
            )
        return realtime_session(ids.session(), model, expires)

    async def _handle(self, websocket: ServerConnection) -> None:
        number = self._connection_numbers.pop(websocket, 0)
        self.connections_served += 1
        seed = None if self._seed is None else self._seed + number
        ids = IdFactory(seed)
        request = websocket.request
        assert request is not None  # the handler runs after the handshake
        who = _describe(number, websocket, request)
        try:
            session = self._admit(request, ids, time.time())
        except _Refusal as refusal:
            _log.info("%s refused: %s, close %d", who, refusal.code, refusal.close_code)
            error = {
                "type": "invalid_request_error",
                "code": refusal.code,
                "message": refusal.message,
                "param": refusal.param,
                "event_id": None,
            }
            await websocket.send(
                orjson.dumps({"type": "error", "event_id": ids.event(), "error": error}).decode()
            )
            await websocket.close(refusal.close_code, refusal.code)
            return
        options = ConnectionOptions(
            model=self._options.model,
            pacing=self._options.pacing,
            faults=self._faults_for(number),
            rate_limits_delay=self._options.rate_limits_delay,
            session_limit=self._options.session_limit,
            vad_clock=self._options.vad_clock,
        )
        model = session.get("model") or "(none)"
        _log.info("%s: session %s, model %s", who, session.get("id"), model)
        try:
            await Connection(websocket, session=session, options=options, ids=ids).run()
        finally:
            _log.info("connection %d closed: %s", number + 1, _close_of(websocket))


def _describe(number: int, websocket: ServerConnection, request: Request) -> str:
    """``connection N from HOST:PORT, key sk-…1234`` (N from 1; the key masked)."""
    peer = websocket.remote_address
    where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)
    key = _credential(request.headers)
    return f"connection {number + 1} from {where}, key {_masked(key) if key else 'none'}"


def _close_of(websocket: ServerConnection) -> str:
    code, reason = websocket.close_code, websocket.close_reason
    if code is None:
        return "no close frame"
    return f"code {code}" + (f" ({reason})" if reason else "")


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    api_key: str | None = None,
    model: Model | None = None,
    realtime_audio: bool = True,
    faults: Faults | None = None,
    text_delta_interval: float | None = None,
    models: Collection[str] | None = None,
    seed: int | None = None,
    session_limit: float | None = 3600.0,
    vad_clock: VadClock | None = None,
) -> RealtimeServer:
    """An embedded Realtime server; ``async with serve() as server:`` starts it on a free port.

    * ``api_key``: when set, connections must present it (else ``invalid_api_key``, close 3000).
    * ``model``: the :class:`~rxrealtime.server.model.Model` answering every connection
      (default :class:`~rxrealtime.server.model.DefaultModel`).
    * ``realtime_audio``: stream output audio in real time (default) or as fast as possible.
    * ``text_delta_interval``: seconds between text deltas (default 0.02 s when
      ``realtime_audio`` is true, else 0).
    * ``faults``: :class:`~rxrealtime.server.faults.Faults` to inject.
    * ``models``: accepted model names (default: any non-empty name).
    * ``seed``: make ids reproducible (connection k uses ``seed + k``).
    * ``session_limit``: seconds after connect at which a session expires, like the live
      service (default 3600; ``None``: never): the server sends an ``error`` event with code
      ``session_expired`` and closes with 1001. ``session.created``'s ``expires_at`` is the
      connect time plus this limit.
    * ``vad_clock``: when server VAD hands out turn boundaries. ``"arrival"`` (the default when
      ``realtime_audio`` is true): input audio plays on a real-time clock from its arrival, so
      ``speech_started`` / ``speech_stopped`` are spaced as the audio between them lasts, as from
      the live service, even when a client pushes audio faster than real time (a client
      streaming in real time sees a boundary at most one append's duration after the audio
      completing it arrived). ``"audio"`` (the default when
      ``realtime_audio`` is false): boundaries as soon as the audio completing them arrives,
      for fast deterministic tests. Audio positions (``audio_start_ms``, ``audio_end_ms``) are
      the same in both.

    Bounds (:mod:`rxrealtime.server.limits`): a client frame larger than
    :data:`~rxrealtime.server.limits.MAX_FRAME_BYTES` closes the connection with 1009; a client
    that stops reading until :data:`~rxrealtime.server.limits.MAX_OUTBOX_BYTES` of events wait
    is disconnected (close 1008, then the TCP connection is aborted).
    """
    return RealtimeServer(
        host,
        port,
        api_key=api_key,
        model=model,
        realtime_audio=realtime_audio,
        faults=faults,
        text_delta_interval=text_delta_interval,
        models=models,
        seed=seed,
        session_limit=session_limit,
        vad_clock=vad_clock,
    )
