"""Opening sessions: :func:`connect`'s options as one object, and the entry points.

:class:`ConnectOptions` is the one list of what ``connect()`` accepts. :func:`connect` keeps
its keyword signature (for readers, editors and type checkers) and turns its arguments into a
``ConnectOptions`` as its first statement; ``tests/session/test_options.py`` holds the
signature and the fields equal, and the fields marked ``transport`` equal to the keywords of
:func:`rxrealtime.transport.prepare`, so the three lists cannot drift.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Protocol

import attrs

from rxrealtime.session.hub import DEFAULT_BUFFER_SIZE
from rxrealtime.session.live import RealtimeSession
from rxrealtime.session.reconnect import ReconnectPolicy
from rxrealtime.transport import (
    ConnectionConfig,
    FrameTransport,
    QueryValue,
    SdkTransport,
    open_websocket,
    prepare,
)

__all__ = ["DEFAULT_MODEL", "ConnectOptions", "FrameRecorder", "connect", "from_sdk_connection"]

DEFAULT_MODEL: Final = "gpt-realtime"
"""The model :func:`connect` asks for when none is given."""

_TRANSPORT: Final = {"transport": True}
"""Field metadata: the option goes to :func:`rxrealtime.transport.prepare` unchanged."""


class FrameRecorder(Protocol):
    """What ``connect(recorder=...)`` needs: :class:`rxrealtime.sinks.Recorder` fits.

    A recorder that also has a ``tap()`` method returning a
    :class:`~rxrealtime.recording.FrameTap` (:class:`rxrealtime.sinks.RedisPublisher` does) is
    tapped instead of wrapped: the session calls its callbacks directly and keeps its fastest
    receive path (a wrapped transport is read with ``recv()``).
    """

    def add_secrets(self, secrets: Iterable[str | None]) -> None:
        """Mask these values in everything recorded from now on."""

    def wrap(self, transport: FrameTransport) -> FrameTransport:
        """A transport that records every frame ``transport`` receives and sends."""


def _transport_option(default: Any = None) -> Any:
    return attrs.field(default=default, metadata=_TRANSPORT)


@attrs.frozen(kw_only=True)
class ConnectOptions:
    """Everything :func:`connect` takes, as one immutable object (see :func:`connect` for
    what each option means). ``ConnectOptions(...).connect()`` is ``connect(...)``.

    No argument is checked here: as with ``connect()``, errors are raised when the session is
    opened, before any I/O.
    """

    model: str | None = DEFAULT_MODEL
    api_key: str | None = _transport_option()
    base_url: str | None = _transport_option()
    extra_query: Mapping[str, QueryValue] | None = _transport_option()
    extra_headers: Mapping[str, str | None] | None = _transport_option()
    call_id: str | None = _transport_option()
    intent: str | None = _transport_option()
    organization: str | None = _transport_option()
    project: str | None = _transport_option()
    azure_endpoint: str | None = _transport_option()
    azure_deployment: str | None = _transport_option()
    api_version: str | None = _transport_option()
    azure_ad_token: str | None = _transport_option()
    allow_insecure: bool = _transport_option(False)
    websocket_options: Mapping[str, Any] | None = None
    buffer_size: int = DEFAULT_BUFFER_SIZE
    reconnect: ReconnectPolicy | None = None
    open_timeout: float | None = None
    idle_timeout: float | None = None
    recorder: FrameRecorder | Sequence[FrameRecorder] | None = None

    @property
    def recorders(self) -> tuple[FrameRecorder, ...]:
        """``recorder`` as a tuple: none, one, or several (each records every connection)."""
        recorder = self.recorder
        if recorder is None:
            return ()
        if isinstance(recorder, Sequence):
            return tuple(recorder)
        return (recorder,)

    def connection_config(self, environ: Mapping[str, str] | None = None) -> ConnectionConfig:
        """The URL, headers and websockets options of one connection (no I/O; raises
        :class:`~rxrealtime.errors.ConfigurationError` for arguments that cannot work)."""
        model = self.model
        if model == DEFAULT_MODEL and (self.call_id is not None or self.intent is not None):
            model = None  # an existing call or a transcription session names no model
        websocket_options = dict(self.websocket_options or {})
        if self.open_timeout is not None:
            websocket_options["open_timeout"] = self.open_timeout
        endpoint = {
            field.name: getattr(self, field.name)
            for field in attrs.fields(ConnectOptions)
            if field.metadata is not None and field.metadata.get("transport")
        }
        return prepare(model, websocket_options=websocket_options, environ=environ, **endpoint)

    async def open(self) -> RealtimeSession:
        """Open the connection and start a session on it (the caller closes it)."""
        config = self.connection_config()
        recorders = self.recorders
        for recorder in recorders:
            recorder.add_secrets(config.secrets)
        taps = tuple(
            getattr(r, "tap")()  # noqa: B009 (an optional method the FrameRecorder protocol lacks)
            for r in recorders
            if callable(getattr(r, "tap", None))
        )
        wrapping = tuple(r for r in recorders if not callable(getattr(r, "tap", None)))

        async def open_recorded() -> FrameTransport:
            transport: FrameTransport = await open_websocket(config)
            for recorder in wrapping:  # the first recorder given sees frames first (taps last)
                transport = recorder.wrap(transport)
            return transport

        return RealtimeSession(
            await open_recorded(),
            buffer_size=self.buffer_size,
            secrets=config.secrets,
            reconnect=self.reconnect,
            # kept (with the configuration it holds) only when it will be used
            reopen=open_recorded if self.reconnect is not None else None,
            idle_timeout=self.idle_timeout,
            taps=taps,
        )

    def connect(self) -> Connecting:
        """``async with options.connect() as session:`` (or ``await`` it), as :func:`connect`."""
        return Connecting(self)


class Connecting:
    """What :func:`connect` returns: ``async with`` it, or ``await`` it (then close yourself)."""

    def __init__(self, options: ConnectOptions) -> None:
        self.options = options
        """The options the session is opened with."""
        self._session: RealtimeSession | None = None

    def __await__(self) -> Generator[Any, None, RealtimeSession]:
        return self.options.open().__await__()

    async def __aenter__(self) -> RealtimeSession:
        self._session = await self.options.open()
        return self._session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()


def connect(
    model: str | None = DEFAULT_MODEL,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    extra_query: Mapping[str, QueryValue] | None = None,
    extra_headers: Mapping[str, str | None] | None = None,
    call_id: str | None = None,
    intent: str | None = None,
    organization: str | None = None,
    project: str | None = None,
    azure_endpoint: str | None = None,
    azure_deployment: str | None = None,
    api_version: str | None = None,
    azure_ad_token: str | None = None,
    allow_insecure: bool = False,
    websocket_options: Mapping[str, Any] | None = None,
    buffer_size: int = DEFAULT_BUFFER_SIZE,
    reconnect: ReconnectPolicy | None = None,
    open_timeout: float | None = None,
    idle_timeout: float | None = None,
    recorder: FrameRecorder | Sequence[FrameRecorder] | None = None,
) -> Connecting:
    """Open a Realtime session: ``async with rxrealtime.connect(...) as session:``.

    URL and headers are built as the official SDK builds them (see :mod:`rxrealtime.transport`).
    ``model`` defaults to ``"gpt-realtime"``, except that with ``call_id=`` or ``intent=`` and no
    explicit model no ``model=`` is sent. ``websocket_options`` go to
    ``websockets.asyncio.client.connect`` (defaults: ``max_size`` 16 MiB, no compression).
    ``buffer_size`` bounds the pre-subscriber backlog and every per-consumer queue.

    Reliability options (all off by default):

    * ``reconnect``: a :class:`~rxrealtime.reconnect.ReconnectPolicy`; recoverable closes
      reconnect with backoff, restore the session and put markers in the stream (see
      :mod:`rxrealtime.reconnect`);
    * ``open_timeout``: seconds for TCP + TLS + upgrade (websockets' default is 10), after which
      :class:`~rxrealtime.errors.HandshakeTimeoutError`; also bounds each reconnect attempt;
    * ``idle_timeout``: when no frame at all arrives for that many seconds the socket is
      dropped and the stream errors with :class:`~rxrealtime.errors.IdleTimeoutError` (or, with
      ``reconnect``, a reconnect follows). The service sends nothing while a session is quiet,
      so choose it above your longest expected silence; websockets' pings (every 20 s) detect a
      dead TCP connection regardless.

    ``recorder`` (e.g. ``rxrealtime.sinks.Recorder("session.jsonl")``) records every raw frame
    in both directions, as received and as sent, with the connection's secrets masked; with
    ``reconnect`` each new connection is recorded into the same recorder. Several recorders
    at once are given as a list (e.g. a JSONL ``Recorder`` and a ``RedisPublisher``).

    Argument errors raise :class:`~rxrealtime.errors.ConfigurationError` when the result is
    awaited or entered, before any I/O; a refused upgrade raises
    :class:`~rxrealtime.errors.HandshakeError`. The arguments are the fields of
    :class:`ConnectOptions` (``connect(**kw)`` is ``ConnectOptions(**kw).connect()``).
    """
    return Connecting(ConnectOptions(**locals()))


def from_sdk_connection(
    connection: Any, *, buffer_size: int = DEFAULT_BUFFER_SIZE
) -> RealtimeSession:
    """Adapt an already-open official SDK ``AsyncRealtimeConnection`` into a session.

    The session reads the SDK connection's frames (``recv_bytes()``), sends with
    ``send_raw()`` and closes it on ``close()``; do not read from the SDK connection yourself
    while the session runs. Call from async code (the receive task starts on the running loop).
    The SDK is not imported. The SDK's reconnect feature, if enabled, is invisible here.
    """
    return RealtimeSession(SdkTransport(connection), buffer_size=buffer_size)
