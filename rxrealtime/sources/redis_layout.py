"""Where sessions live in Redis: key names, entry fields, and the client both sides open.

This module is the one agreement between the publisher (:class:`rxrealtime.sinks.RedisPublisher`)
and the sources (:func:`rxrealtime.sources.redis_session`, :func:`rxrealtime.sources.redis_group`).
It does no I/O except :func:`open_client`, and imports ``redis`` only there.

Keys (``P`` is the prefix, ``rxrealtime`` by default; ``{…}`` is a Redis Cluster hash tag, so
every key of one session hashes to the same slot and each shard stream to its own)::

    P:session:{SID}          stream: the session's records, in order (one stream per session)
    P:session:{SID}:info     hash:   id, model, started_at, ended_at, status, reason, error, ...
    P:sessions               sorted set: every session id, scored by its start (unix time)
    P:all:{K}                stream: every session's records again, for consumer groups
                             (K = 0 .. shards-1; a session always goes to the same shard)

Entries of a session's stream::

    records   the session's records, in the recording format (rxrealtime.recording):
              one or more complete JSON lines, each "\\n"-terminated, in order
    n         how many records ``records`` holds (decimal)
    session   the session id

Entries of a group stream carry the records of every session a publishing process wrote in one
round trip (one entry per round trip and group stream, split past about 256 KiB), so a group
reader pays its per-entry costs once for many sessions::

    s:SID     the records of session SID, in order, as in ``records`` above (one field per
              session in the entry)

Readers also accept a group entry of the session stream's shape (``session`` + ``records``).

An entry in a session's stream has the id ``MS-SEQ`` where ``MS`` is the unix time in
milliseconds at which its first record was received; ids only grow, so a retried write of the
same entry is recognised and not stored twice.
"""

from __future__ import annotations

import functools
import zlib
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:  # pragma: no cover - typing only; redis is an optional extra
    from redis.asyncio import Redis

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_URL",
    "FIELD_COUNT",
    "FIELD_ENTRY",
    "FIELD_RECORDS",
    "FIELD_SESSION",
    "SESSION_FIELD_PREFIX",
    "StreamLayout",
    "check_session_id",
    "entry_ms",
    "is_transient",
    "open_client",
]

DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PREFIX = "rxrealtime"
FIELD_RECORDS = b"records"
FIELD_COUNT = b"n"
FIELD_SESSION = b"session"
FIELD_ENTRY = b"entry"
"""No longer written (a group entry used to name its session-stream twin); kept for readers."""
SESSION_FIELD_PREFIX = b"s:"
"""A group entry's field ``s:SID`` holds the records of session ``SID``."""

_TRANSIENT_REPLIES = ("LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "OOM")


def check_session_id(session_id: str) -> str:
    """``session_id`` if it can name a session (non-empty, no braces, no whitespace), else
    ``ValueError``: braces would break the Cluster hash tag."""
    if (
        not isinstance(session_id, str)
        or not session_id
        or any(c in session_id for c in "{}")
        or any(c.isspace() for c in session_id)
        or len(session_id) > 200
    ):
        raise ValueError(
            f"a session id must be 1-200 characters without braces or whitespace: {session_id!r}"
        )
    return session_id


@attrs.frozen
class StreamLayout:
    """Key names for one deployment: ``prefix`` separates deployments sharing a Redis;
    ``shards`` is how many group streams the sessions are spread over (publishers and group
    readers of one deployment must agree on both)."""

    prefix: str = DEFAULT_PREFIX
    shards: int = 1

    def __attrs_post_init__(self) -> None:
        if not self.prefix or any(c in self.prefix for c in "{}"):
            raise ValueError(f"the prefix must be non-empty, without braces: {self.prefix!r}")
        if not 1 <= self.shards <= 1024:
            raise ValueError(f"shards must be between 1 and 1024, not {self.shards!r}")

    def session_stream(self, session_id: str) -> str:
        """The stream holding one session's records."""
        return f"{self.prefix}:session:{{{session_id}}}"

    def session_info(self, session_id: str) -> str:
        """The hash describing one session (same Cluster slot as its stream)."""
        return f"{self.prefix}:session:{{{session_id}}}:info"

    def index(self) -> str:
        """The sorted set of every session id, scored by start time."""
        return f"{self.prefix}:sessions"

    def shard_of(self, session_id: str) -> int:
        """The group stream a session's records also go to (stable across processes)."""
        return zlib.crc32(session_id.encode("utf-8")) % self.shards

    def shard_stream(self, shard: int) -> str:
        """Group stream number ``shard``."""
        return f"{self.prefix}:all:{{{shard}}}"

    def shard_streams(self) -> list[str]:
        """Every group stream, in shard order."""
        return [self.shard_stream(k) for k in range(self.shards)]


@functools.cache
def _driver_settings() -> dict[str, Any]:
    """What every client is given so that its connections do not each look up redis-py's
    version (redis-py 8 reads the installed package's metadata for every new connection, a
    few milliseconds; it is the same every time): the driver details, resolved once."""
    try:
        from redis.driver_info import resolve_driver_info
    except ImportError:  # redis-py before 8 resolves them once, at import
        return {}
    return {"driver_info": resolve_driver_info()}


def entry_ms(entry_id: bytes | str) -> int:
    """The millisecond part of a stream entry id (``b"1732600000123-4"`` -> ``1732600000123``)."""
    text = entry_id.decode("ascii") if isinstance(entry_id, bytes) else entry_id
    return int(text.partition("-")[0])


def is_transient(error: BaseException) -> bool:
    """Whether a Redis failure is worth retrying: connection trouble, timeouts, and the error
    replies a restarting, failing-over or full server gives (``LOADING``, ``OOM``, …)."""
    from redis import exceptions

    if isinstance(error, exceptions.ConnectionError | exceptions.TimeoutError | OSError):
        return True
    if isinstance(error, exceptions.ResponseError):
        return str(error).split(" ", 1)[0].upper() in _TRANSIENT_REPLIES
    return False


def open_client(url: str, *, cluster: bool = False, **options: Any) -> Redis:
    """A ``redis.asyncio`` client for ``url`` that fails fast (no hidden retries: the callers
    retry with their own bounded policy) and returns bytes. ``cluster=True`` opens a
    ``RedisCluster`` client instead (for Redis Cluster; the keys above are slot-safe).

    Raises ``ImportError`` with the install hint when the ``redis`` package is missing.
    """
    try:
        from redis.asyncio import Redis, RedisCluster
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the Redis integration needs the redis package: pip install 'rxrealtime[redis]'"
        ) from error
    settings: dict[str, Any] = {
        "socket_timeout": 5.0,
        "socket_connect_timeout": 2.0,
        "retry": Retry(NoBackoff(), 0),
        "decode_responses": False,
    }
    settings.update(_driver_settings())
    settings.update(options)
    if cluster:
        client: Any = RedisCluster.from_url(url, **settings)
        return client  # type: ignore[no-any-return]
    return Redis.from_url(url, **settings)
