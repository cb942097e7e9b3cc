"""Secrets never leak; plain ws:// is refused off loopback; TLS is verified (issue 8, point 4)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rel_helpers import FAST, Collector, server_mod, text_turn

import rxrealtime.session as rs
from rxrealtime import events as ev
from rxrealtime.errors import (
    AuthenticationError,
    CertificateVerificationError,
    ConnectionClosedError,
    InsecureURLError,
)
from rxrealtime.reconnect import ReconnectPolicy
from rxrealtime.sinks import Recorder
from rxrealtime.transport import prepare

KEY = "sk-proj-RELIABILITY-test-key-0123456789abcdef"
WRONG = "sk-proj-WRONG-test-key-9876543210fedcba"
Faults = server_mod.Faults


def _texts(*things: Any) -> str:
    return "\n".join(f"{thing!r}\n{thing}" for thing in things)


async def test_the_key_never_appears_in_logs_reprs_errors_or_recordings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, websockets' client and server included
    for name in ("websockets", "websockets.client", "websockets.server", "rxrealtime"):
        caplog.set_level(logging.DEBUG, logger=name)  # restored after the test, unlike setLevel
    exposed: list[Any] = []
    recording = tmp_path / "session.jsonl"
    # a refused key, then a full session that reconnects once and then dies for good
    faults = Faults(drop_after=12, connections=2)  # the refused one, then the session's first
    async with server_mod.serve(realtime_audio=False, api_key=KEY, faults=faults) as server:
        bad = await rs.connect(base_url=server.base_url, api_key=WRONG)
        seen_bad = Collector(bad)
        await seen_bad.until_ended()
        assert isinstance(seen_bad.error, AuthenticationError)
        exposed += [bad, bad.statistics(), seen_bad.error, *seen_bad.events]
        await bad.close()

        policy = ReconnectPolicy(max_attempts=2, **FAST)
        session = await rs.connect(base_url=server.base_url, api_key=KEY, reconnect=policy)
        recorder = Recorder(recording, secrets=[KEY], meta={"url": server.base_url, "key": KEY})
        session.events.subscribe(recorder)
        seen = Collector(session)
        await session.send_raw('{"type": "no.such.event"}')  # an error event, as data
        await text_turn(session)
        await seen.until_count(ev.SessionCreated, 2)  # reconnected after the drop
        await server.stop()  # now every attempt is refused
        await seen.until_ended()
        assert isinstance(seen.error, ConnectionClosedError)
        exposed += [session, session.statistics(), seen.error, seen.error.__cause__]
        with pytest.raises(ConnectionClosedError) as after:
            await session.send({"type": "input_audio_buffer.clear"})
        exposed.append(after.value)
        await session.close()
    exposed.append(prepare(base_url=server.base_url, api_key=KEY))
    exposed.append(prepare(api_key=KEY))
    everything = "\n".join(
        [caplog.text, _texts(*exposed), recording.read_text(), *map(str, seen.events)]
    )
    assert "Authorization" in caplog.text  # the handshake really was logged, masked
    assert seen.count(ev.ErrorEvent) >= 1 and len(seen.events) > 12
    for secret in (KEY, WRONG, KEY[8:30], WRONG[8:30]):
        assert secret not in everything


@pytest.mark.parametrize(
    "base_url", ["ws://example.com/v1", "http://10.1.2.3:8080/v1", "ws://[2001:db8::1]/v1"]
)
async def test_plain_ws_to_a_remote_host_is_refused_before_any_io(base_url: str) -> None:
    with pytest.raises(InsecureURLError, match="allow_insecure"):
        await rs.connect(base_url=base_url, api_key=KEY)
    assert prepare(base_url=base_url, api_key=KEY, allow_insecure=True).url.startswith("ws://")
    for loopback in ("ws://127.0.0.1:1/v1", "ws://localhost:1/v1", "ws://[::1]:1/v1"):
        assert prepare(base_url=loopback, api_key=KEY).url.startswith("ws://")


def test_the_default_is_verified_tls() -> None:
    config = prepare(api_key=KEY)
    assert config.url.startswith("wss://api.openai.com/")
    assert "ssl" not in config.websocket_options  # websockets then builds a verifying context


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 made at test time (cryptography if present, else openssl)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        import datetime

        from cryptography import x509  # type: ignore[import-not-found]
        from cryptography.hazmat.primitives import hashes, serialization  # type: ignore[import-not-found]
        from cryptography.hazmat.primitives.asymmetric import ec  # type: ignore[import-not-found]
        from cryptography.x509.oid import NameOID  # type: ignore[import-not-found]
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("neither the cryptography package nor the openssl command is available")
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return cert, key
    import ipaddress

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


async def test_tls_certificates_are_verified(tmp_path: Path) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    cert, key = _self_signed(tmp_path)
    server_ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ssl.load_cert_chain(cert, key)

    async def greet(websocket: ServerConnection) -> None:
        await websocket.send('{"type": "session.created", "event_id": "e1", "session": {}}')
        await websocket.wait_closed()

    async with serve(greet, "127.0.0.1", 0, ssl=server_ssl) as server:
        port = server.sockets[0].getsockname()[1]
        base_url = f"https://127.0.0.1:{port}/v1"
        with pytest.raises(CertificateVerificationError, match="certificate"):
            await rs.connect(base_url=base_url, api_key=KEY)
        # the same server, trusted explicitly: so verification was the only thing in the way
        trusting = ssl.create_default_context(cafile=str(cert))
        async with rs.connect(
            base_url=base_url, api_key=KEY, websocket_options={"ssl": trusting}
        ) as session:
            assert isinstance(await asyncio.wait_for(session.recv(), 5), ev.SessionCreated)


def _echo_near_the_cut(connection: Any, request: Any) -> Any:
    """Refuse the upgrade with a body that echoes the bearer token across the 500-char cut."""
    token = request.headers.get("Authorization", "")[len("Bearer ") :]
    return connection.respond(401, "x" * 458 + f"invalid key {token} (echoed)\n")


async def test_a_refused_upgrade_masks_the_key_before_cutting_the_body() -> None:
    """Issue 12, point 6: the body is cut at 500 characters *after* masking, so a key echoed
    across the cut leaves no prefix in the error, its repr or the session's statistics."""
    from websockets.asyncio.server import serve

    from rxrealtime.errors import HandshakeError

    refuse = _echo_near_the_cut
    async with serve(lambda ws: ws.close(), "127.0.0.1", 0, process_request=refuse) as raw:
        port = raw.sockets[0].getsockname()[1]
        with pytest.raises(HandshakeError) as info:
            await rs.connect(base_url=f"ws://127.0.0.1:{port}/v1", api_key=KEY)
    assert info.value.status_code == 401
    text = _texts(info.value)
    assert "x" * 100 in text  # the body is there, cut
    assert KEY[:20] not in text and KEY[-12:] not in text


async def test_a_refused_reconnect_masks_the_key_in_last_failure_and_statistics() -> None:
    """Issue 12, point 6: the same body on a *reconnect* reaches ``last_failure`` and
    ``statistics().last_error`` masked too."""
    from websockets.asyncio.server import ServerConnection, serve

    accepted = 0

    def first_only(connection: Any, request: Any) -> Any:
        nonlocal accepted
        if accepted:
            return _echo_near_the_cut(connection, request)
        accepted += 1
        return None

    async def drop(ws: ServerConnection) -> None:
        await ws.close(1011, "gone")  # recoverable: the session reconnects

    async with serve(drop, "127.0.0.1", 0, process_request=first_only) as raw:
        port = raw.sockets[0].getsockname()[1]
        policy = ReconnectPolicy(max_attempts=2, **FAST)
        url = f"ws://127.0.0.1:{port}/v1"
        session = await rs.connect(base_url=url, api_key=KEY, reconnect=policy)
        seen = Collector(session)
        await seen.until_ended()
        await session.close()
    assert seen.error is not None
    text = _texts(seen.error, seen.error.__cause__, session.statistics(), session)
    assert "x" * 100 in text or "401" in text  # the refusal is described
    assert KEY[:20] not in text and KEY[-12:] not in text
