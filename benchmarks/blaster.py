"""A lean load generator for ``bench_scale.py``: a purpose-built blaster server, NOT the embedded
server.

It speaks just enough WebSocket (RFC 6455) to stand in for the Realtime service at scale, and
spends as little CPU as it can doing it, so that the client being measured is the bottleneck:

* the opening handshake, then ``session.created``;
* per connection, a real-time stream of server events: one spoken response per second, ~59
  events (``response.created``, item and content-part events, 20 audio deltas of 50 ms —
  2,400 PCM bytes, 3,200 base64 characters — 31 transcript deltas, the closing ``*.done``
  events), each at its **scheduled send time** ``start + k / 59 s``, which it carries in its
  ``event_id`` (``"t<microseconds of time.monotonic()>"``: one clock for every process of the
  machine), so a client can measure its lateness against the schedule, absolutely;
* every frame is serialised from a template made once (only the ``event_id`` digits change,
  fixed width, so the frame header is precomputed); one ticker task wakes every
  :data:`TICK` seconds and writes, per connection, every frame that has come due, in one
  ``write``;
* client frames are split by their headers only: appends are counted without being unmasked,
  pings answered, the close handshake completed; a short text frame (``{"type":"x.done"}``)
  ends the stream: the blaster then sends ``{"type":"x.count","sent":N,"appends":M}`` (frames
  it sent, appends it received) and closes with 1000;
* the path ``/idle/...`` gets ``session.created`` only (for memory per idle session).

Its own lateness (how late each frame was written against its schedule) is recorded, so a late
event can be attributed. Run as a process: ``python benchmarks/blaster.py [--cpu N]`` prints
``listening on PORT``, then answers each ``BEGIN END`` line on stdin with a JSON line: its
write lateness p99/max (ms) over frames scheduled in ``[BEGIN, END)`` and its CPU seconds so
far; it stops at the end of stdin. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import struct
import sys
import time
from typing import Any

TICK = 0.002
"""Seconds between two passes of the ticker over every connection."""
EVENTS_PER_SECOND = 59
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_ID_DIGITS = 15  # microseconds of time.monotonic(): fixed width


def _header(length: int, opcode: int = 1) -> bytes:
    if length < 126:
        return struct.pack("!BB", 0x80 | opcode, length)
    if length < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, length)
    return struct.pack("!BBQ", 0x80 | opcode, 127, length)


def response_cycle() -> list[dict[str, Any]]:
    """One second of a spoken response: :data:`EVENTS_PER_SECOND` events (no ``event_id``)."""
    ids = {"response_id": "resp_1", "item_id": "item_1", "output_index": 0}
    part = {**ids, "content_index": 0}
    audio = base64.b64encode(bytes(2400)).decode()  # 50 ms of 24 kHz PCM16
    item = {
        "id": "item_1",
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": "hi"}],
    }
    response = {
        "object": "realtime.response",
        "id": "resp_1",
        "status": "in_progress",
        "output": [],
        "output_modalities": ["audio"],
    }
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response},
        {
            "type": "response.output_item.added",
            "response_id": "resp_1",
            "output_index": 0,
            "item": {**item, "status": "in_progress", "content": []},
        },
        {
            "type": "response.content_part.added",
            **part,
            "part": {"type": "output_audio", "transcript": ""},
        },
    ]
    for k in range(51):  # 20 audio deltas interleaved with 31 transcript deltas
        if k % 5 in (1, 3):
            events.append({"type": "response.output_audio.delta", **part, "delta": audio})
        else:
            events.append(
                {"type": "response.output_audio_transcript.delta", **part, "delta": "word "}
            )
    events += [
        {"type": "response.output_audio.done", **part},
        {"type": "response.output_audio_transcript.done", **part, "transcript": "hi"},
        {
            "type": "response.content_part.done",
            **part,
            "part": {"type": "output_audio", "transcript": "hi"},
        },
        {
            "type": "response.output_item.done",
            "response_id": "resp_1",
            "output_index": 0,
            "item": item,
        },
        {
            "type": "response.done",
            "response": {**response, "status": "completed", "output": [item]},
        },
    ]
    assert len(events) == EVENTS_PER_SECOND
    return events


def _template(event: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    """(frame header, JSON before the event_id digits, JSON after them)."""
    marker = "0" * _ID_DIGITS
    text = json.dumps(
        {
            "type": event["type"],
            "event_id": "t" + marker,
            **{k: v for k, v in event.items() if k != "type"},
        },
        separators=(",", ":"),
    ).encode()
    head, tail = text.split(marker.encode(), 1)
    return _header(len(text)), head, tail


CYCLE = [_template(event) for event in response_cycle()]
SESSION_CREATED = _template(
    {
        "type": "session.created",
        "session": {
            "type": "realtime",
            "object": "realtime.session",
            "id": "sess_blaster",
            "model": "gpt-realtime",
        },
    }
)


def _frame(template: tuple[bytes, bytes, bytes], at: float) -> bytes:
    header, head, tail = template
    return b"".join((header, head, b"%015d" % int(at * 1e6), tail))


class Connection(asyncio.Protocol):
    """One client connection: handshake, then the scheduled stream (see the module docstring)."""

    def __init__(self, blaster: Blaster) -> None:
        self.blaster = blaster
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.open = False  # no close frame sent yet
        self.streaming = False
        self.next_at = 0.0
        self.index = 0
        self.sent = 0
        self.appends = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.streaming = False
        self.blaster.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            request, self.buffer = bytes(self.buffer[:end]), self.buffer[end + 4 :]
            self._upgrade(request)
        self._client_frames()

    def _upgrade(self, request: bytes) -> None:
        lines = request.split(b"\r\n")
        path = lines[0].split(b" ")[1] if b" " in lines[0] else b"/"
        key = next(
            line.split(b":", 1)[1].strip()
            for line in lines
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        assert self.transport is not None
        now = time.monotonic()
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + _frame(SESSION_CREATED, now)
        )
        self.sent = 1
        self.upgraded = self.open = True
        if not path.startswith(b"/idle"):
            self.streaming = True
            self.next_at = now + 0.05
            self.blaster.connections.add(self)

    def _client_frames(self) -> None:
        buf = self.buffer
        pos = 0
        while len(buf) - pos >= 6:  # client frames are masked: 2 + 4 bytes at least
            head1, head2 = buf[pos], buf[pos + 1]
            length, start = head2 & 0x7F, pos + 2
            if length == 126:
                if len(buf) - pos < 8:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if len(buf) - pos < 14:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            end = start + 4 + length
            if end > len(buf):
                break
            opcode = head1 & 0x0F
            if opcode == 1 and length > 200:
                self.appends += 1
            elif opcode in (1, 8, 9):
                mask = buf[start : start + 4]
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(buf[start + 4 : end]))
                self._control(opcode, payload)
            pos = end
        del buf[:pos]

    def _control(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        if opcode == 9:  # ping -> pong
            self.transport.write(_header(len(payload), 10) + payload)
        elif opcode == 8:  # the client's close: echo it, then hang up
            if self.open:
                self.transport.write(_header(len(payload[:2]), 8) + payload[:2])
            self.open = self.streaming = False
            self.transport.close()
        elif payload.startswith(b'{"type":"x.done"'):
            self.streaming = False
            self.blaster.connections.discard(self)
            count = json.dumps(
                {
                    "type": "x.count",
                    "event_id": "count",
                    "sent": self.sent,
                    "appends": self.appends,
                },
                separators=(",", ":"),
            ).encode()
            self.transport.write(_header(len(count)) + count)
            self.transport.write(_header(2, 8) + struct.pack("!H", 1000))
            self.open = False

    def pump(self, now: float) -> None:
        """Write every frame that has come due (one write)."""
        due: list[bytes] = []
        cycle, size = CYCLE, len(CYCLE)
        lateness = self.blaster.lateness
        while self.next_at <= now:
            at = self.next_at
            due.append(_frame(cycle[self.index % size], at))
            lateness.append((at, now - at))
            self.index += 1
            self.next_at = at + 1 / EVENTS_PER_SECOND
        if due and self.transport is not None:
            self.transport.write(b"".join(due))
            self.sent += len(due)


class Blaster:
    """The ticker and every streaming connection."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self.lateness: list[tuple[float, float]] = []

    async def tick(self) -> None:
        while True:
            now = time.monotonic()
            for connection in list(self.connections):
                if connection.streaming and connection.next_at <= now:
                    connection.pump(now)
            await asyncio.sleep(TICK)

    def window(self, begin: float, end: float) -> dict[str, float]:
        late = sorted(lag for at, lag in self.lateness if begin <= at < end)
        self.lateness = [sample for sample in self.lateness if sample[0] >= end]
        p99 = late[min(len(late) - 1, int(0.99 * len(late)))] * 1000 if late else float("nan")
        return {
            "p99_ms": p99,
            "max_ms": late[-1] * 1000 if late else float("nan"),
            "cpu_s": time.process_time(),
        }


async def main(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    loop = asyncio.get_running_loop()
    blaster = Blaster()
    server = await loop.create_server(lambda: Connection(blaster), "127.0.0.1", 0, backlog=4096)
    ticker = loop.create_task(blaster.tick())
    print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    while line := await commands.readline():
        begin, end = map(float, line.split())
        print(json.dumps(blaster.window(begin, end)), flush=True)
    ticker.cancel()
    server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="lean load generator for bench_scale.py")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    asyncio.run(main(parser.parse_args().cpu))
