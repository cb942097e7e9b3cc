"""A refused upgrade is typed, with its real status, and never shows the key (issue 12,
points 6 and 10).

Attacks: an HTTP error whose body is over websockets' 1 MiB limit (``Content-Length``) or
exactly at it; a body that echoes the key across the point where the message is cut; the same
refusal met by a reconnect (``ReconnectFailedError.last_failure``, ``statistics().last_error``).
"""

from __future__ import annotations

import asyncio
import traceback

import pytest
from hostile_peer import Peer, hostile_server

import rxrealtime as rr
from rxrealtime.errors import HandshakeError, ReconnectFailedError
from rxrealtime.transport import HANDSHAKE_BODY_READ, HANDSHAKE_BODY_SHOWN

KEY = "sk-hostile-handshake-0123456789abcdefABCDEF"
MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("status", "size"),
    [(503, 2 * MIB), (401, HANDSHAKE_BODY_READ + 1), (429, 40 * MIB), (502, HANDSHAKE_BODY_READ)],
)
async def test_a_refusal_with_a_huge_body_keeps_its_status(status: int, size: int) -> None:
    async with hostile_server(refuse=(status, b"e" * size)) as server:
        with pytest.raises(HandshakeError) as caught:
            await rr.connect(base_url=server.base_url, api_key=KEY)
    assert caught.value.status_code == status
    assert str(status) in str(caught.value)
    assert len(str(caught.value)) < HANDSHAKE_BODY_SHOWN + 200


@pytest.mark.parametrize("at", range(HANDSHAKE_BODY_SHOWN - len(KEY), HANDSHAKE_BODY_SHOWN + 2, 7))
async def test_a_key_echoed_across_the_cut_never_shows(at: int) -> None:
    body = ("x" * at + KEY + "y" * 100).encode()
    async with hostile_server(refuse=(401, body)) as server:
        with pytest.raises(HandshakeError) as caught:
            await rr.connect(base_url=server.base_url, api_key=KEY)
    error = caught.value
    shown = str(error) + repr(error) + "".join(traceback.format_exception(error))
    for fragment in (KEY[: len(KEY) // 2], KEY[len(KEY) // 2 :], KEY[4:16]):
        assert fragment not in shown


async def test_a_refused_reconnect_never_shows_the_key() -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        peer.cut()

    body = ("z" * (HANDSHAKE_BODY_SHOWN - 10) + KEY).encode()
    # the first upgrade is accepted (then cut); every reconnect is refused, echoing the key
    async with hostile_server(script, refuse=(403, body), refuse_from=2) as server:
        policy = rr.ReconnectPolicy(max_attempts=2, initial_delay=0)
        session = await rr.connect(base_url=server.base_url, api_key=KEY, reconnect=policy)
        async with asyncio.timeout(20):
            await session.wait_closed()
    assert server.requests == 3
    error = session.exception()
    assert isinstance(error, ReconnectFailedError)
    assert error.last_failure is not None and "HTTP 403" in error.last_failure
    shown = "".join(
        [str(error), repr(error), str(error.last_failure), str(session.statistics().last_error)]
    )
    assert KEY[:10] not in shown and KEY[-10:] not in shown
