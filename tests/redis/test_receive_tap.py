"""The Redis publisher's receive tap: the C twin (``rxrealtime._native_tap``) and the pure-Python
tap record the same things, wake and fail alike, write byte-equal wire buffers, and the C one
neither leaks memory nor references. No Redis here: the taps are driven in process with a real
:class:`RecordEncoder`, decoded events and a counting clock."""

from __future__ import annotations

import gc
import itertools
import random
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any, cast

import pytest

from rxrealtime import events as ev
from rxrealtime.sinks._redis_encode import AUDIO_IN, MARKER, RecordEncoder
from rxrealtime.sinks._redis_tap import PyReceiveTap, Record
from rxrealtime.sinks._redis_wire import HEAD, decode_wire, encode_record

try:
    from rxrealtime import _native_tap

    CTap: type[PyReceiveTap] | None = cast("type[PyReceiveTap]", _native_tap.ReceiveTap)
except ImportError:  # not built: the C cases skip
    CTap = None

NEEDS_C = pytest.mark.skipif(CTap is None, reason="rxrealtime._native_tap is not built")
IMPLS = [pytest.param("c", marks=NEEDS_C), "py"]
KINDS = AUDIO_IN | {"response.created"}  # what the publisher has its encoder decide

SESSION = (
    '{"type":"session.created","event_id":"e1","session":{"type":"realtime","id":"sess_1",'
    '"model":"gpt-realtime","object":"realtime.session"}}'
)
CREATED = (
    '{"type":"response.created","event_id":"e2","response":{"id":"resp_1",'
    '"object":"realtime.response","status":"in_progress","output":[]}}'
)
AUDIO = (
    '{"type":"response.output_audio.delta","event_id":"e3","response_id":"resp_1",'
    '"item_id":"item_1","output_index":0,"content_index":0,"delta":"AAAAAAAA"}'
)
TEXT = (
    '{"type":"response.output_text.delta","event_id":"e4","response_id":"resp_1",'
    '"item_id":"item_1","output_index":0,"content_index":0,"delta":"h\u00e9llo \u2713 \U0001f389"}'
)
MISSING = '{"type":"response.output_text.delta","event_id":"e5"}'  # invalid: fields missing
SURROGATE = '{"type":"x","delta":"\ud800"}'  # a lone surrogate: not UTF-8, invalid


def wire_of(records: list[Record]) -> bytes:
    """The wire bytes of ``records``, written one by one by the format's own encoder."""
    return b"".join(encode_record(*record) for record in records)


def decode(frame: Any) -> ev.ServerEvent:
    return ev.decode(frame if isinstance(frame, str | bytes) else bytes(frame))


class Probe:
    """A tap with a real encoder, a counting clock and callbacks that record what they get;
    any of ``admit``, ``clock``, ``wake``, ``failed`` may be replaced."""

    def __init__(
        self, impl: str, wire: bool = False, given: dict[str, Callable[..., Any]] | None = None
    ) -> None:
        given = given or {}
        self.encoder = RecordEncoder(0.0, False, ())
        self.ticks = itertools.count(1)
        self.stamp = 0.0
        self.wakes = 0
        self.failures: list[BaseException] = []
        self.tap = (CTap if impl == "c" else PyReceiveTap)(  # type: ignore[misc]
            KINDS,
            given.get("admit", self.encoder.admit),
            given.get("wake", self._wake),
            given.get("failed", self.failures.append),
            given.get("clock", self._clock),
            invalid=ev.InvalidEvent,
            wire=wire,
        )

    def _wake(self) -> None:
        self.wakes += 1

    def _clock(self) -> float:
        self.stamp = 1_764_000_000.0 + next(self.ticks) / 8
        return self.stamp


# ("in", frame, flags or None for left out) | (direction, frame, flags) appended (wire mode)
STEPS: list[tuple[str, Any, int | None]] = [
    ("in", SESSION, 5),  # SESSION | VALID
    ("in", CREATED.encode(), 1),
    ("in", AUDIO, 3),  # the response's first audio delta: MARKER | VALID
    ("in", AUDIO.encode(), None),  # the second: omitted
    ("in", TEXT, 1),
    ("in", TEXT.encode(), 1),
    ("out", '{"type":"response.create"}', 1),
    ("in", bytearray(TEXT.encode()), 1),
    ("in", memoryview(TEXT.encode()), 1),
    ("in", MISSING, 0),  # invalid: admit decides, no VALID
    ("in", "not json", 0),
    ("out", b'{"type":"input_audio_buffer.commit"}', 0),
    ("reconnect", (2, 1006, "gone"), 0),
    ("in", CREATED, 1),  # a new response: its first audio delta is kept again
    ("in", memoryview(AUDIO.encode()), 3),
    ("in", bytearray(AUDIO.encode()), None),
    ("in", SURROGATE, 0),
    ("line", b'{"t":1.5,"dir":"in"}\n', 0),
    ("out", "lone \udcff surrogate", 0),
    ("end", ("closed", None), 0),
    ("end", ("error", "boom"), 0),
]


def drive(probe: Probe, wire: bool) -> list[Record]:
    """Run STEPS through the probe's tap (appends only in wire mode); the records expected."""
    expected: list[Record] = []
    for number, (direction, frame, flags) in enumerate(STEPS):
        if direction != "in":
            if wire:
                probe.tap.append(2.5 + number, direction, frame, cast(int, flags))
                expected.append((2.5 + number, direction, frame, cast(int, flags)))
            continue
        before = probe.stamp
        probe.tap(frame, decode(frame))
        if flags is None:
            assert probe.stamp == before  # left out before the clock is read
            continue
        copied = frame.__class__ is memoryview or (wire and frame.__class__ is bytearray)
        expected.append((probe.stamp, "in", bytes(frame) if copied else frame, flags))
    return expected


def call(tap: PyReceiveTap) -> Callable[..., object]:
    return tap


def typed(records: list[Record]) -> list[tuple[Record, type]]:
    return [(record, record[2].__class__) for record in records]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("wire", [False, True])
def test_the_tap_records_what_the_rules_say(impl: str, wire: bool) -> None:
    probe = Probe(impl, wire)
    expected = drive(probe, wire)
    calls = sum(step[0] == "in" for step in STEPS)
    assert probe.tap.frames == calls and probe.encoder.omitted == 2 and probe.failures == []
    if wire:
        assert probe.tap.raw == [] and probe.tap.wire_records == len(expected)
        data = probe.tap.take_wire()
        assert data == wire_of(expected)
        assert typed(decode_wire(data)) == typed(expected)
        assert probe.tap.wire_records == 0 and probe.tap.take_wire() == b""
    else:
        assert typed(probe.tap.raw) == typed(expected)
    assert probe.wakes == (1 if wire else len(expected))  # limit 1: every append wakes


@NEEDS_C
@pytest.mark.parametrize("wire", [False, True])
def test_c_and_python_taps_agree(wire: bool) -> None:
    c_probe, py_probe = Probe("c", wire), Probe("py", wire)
    assert drive(c_probe, wire) == drive(py_probe, wire)
    if wire:
        assert c_probe.tap.wire_records == py_probe.tap.wire_records
        assert c_probe.tap.take_wire() == py_probe.tap.take_wire()
    else:
        assert typed(c_probe.tap.raw) == typed(py_probe.tap.raw)
    for name in ("frames", "ended", "limit"):
        assert getattr(c_probe.tap, name) == getattr(py_probe.tap, name)
    assert (c_probe.wakes, c_probe.encoder.omitted) == (py_probe.wakes, py_probe.encoder.omitted)


@pytest.mark.parametrize("impl", IMPLS)
def test_wake_at_one_record_and_from_limit(impl: str) -> None:
    listed, wire = Probe(impl), Probe(impl, wire=True)
    listed.tap.limit = 3
    woken = []
    for _ in range(5):
        for probe in (listed, wire):
            probe.tap(TEXT, decode(TEXT))
        woken.append((listed.wakes, wire.wakes))
    assert woken == [(1, 1), (1, 1), (2, 1), (3, 1), (4, 1)]  # lengths 1, 3, 4, 5 | the first
    listed.tap.raw = []  # the publisher takes the list, the wire
    wire.tap.take_wire()
    wire.tap.append(1.0, "out", "x", 0)  # calls nothing back (then the buffer is not empty)
    for probe in (listed, wire, listed, wire):
        probe.tap(TEXT, decode(TEXT))
    assert (listed.wakes, wire.wakes, wire.tap.wire_records) == (5, 1, 3)
    wire.tap.take_wire()
    wire.tap(TEXT, decode(TEXT))
    assert wire.wakes == 2


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("wire", [False, True])
def test_nothing_is_counted_or_recorded_once_ended(impl: str, wire: bool) -> None:
    admitted: list[object] = []

    def admit(*args: object) -> int:
        admitted.append(args)
        return 0

    probe = Probe(impl, wire, {"admit": admit})
    probe.tap(AUDIO, decode(AUDIO))
    probe.tap.ended = True
    for frame in (AUDIO, TEXT, SESSION, MISSING):
        assert call(probe.tap)(frame, decode(frame)) is None
    assert probe.tap.frames == 1 and len(admitted) == 1 and probe.wakes == 1
    assert len(decode_wire(probe.tap.take_wire()) if wire else probe.tap.raw) == 1


@pytest.mark.parametrize("impl", IMPLS)
def test_invalid_events_get_no_valid_flag(impl: str) -> None:
    probe = Probe(impl, False, {"admit": lambda *args: MARKER})
    for frame in (MISSING, AUDIO, "not json", SESSION, TEXT):
        probe.tap(frame, decode(frame))
    assert [record[3] for record in probe.tap.raw] == [2, 3, 2, 3, 1]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("wire", [False, True])
def test_a_memoryview_frame_is_copied(impl: str, wire: bool) -> None:
    probe = Probe(impl, wire)
    buffer = bytearray(TEXT.encode())
    probe.tap(memoryview(buffer), decode(buffer))
    buffer[:8] = b"XXXXXXXX"  # the session reuses its buffer
    records = decode_wire(probe.tap.take_wire()) if wire else probe.tap.raw
    assert records[0][2] == TEXT.encode() and records[0][2].__class__ is bytes


@pytest.mark.parametrize("impl", IMPLS)
def test_a_strided_memoryview_is_written_in_order(impl: str) -> None:
    probe = Probe(impl, wire=True)
    probe.tap.append(1.0, "in", memoryview(b"abcdef")[::2], 1)
    assert decode_wire(probe.tap.take_wire()) == [(1.0, "in", b"ace", 1)]
    assert not probe.failures


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("wire", [False, True])
@pytest.mark.parametrize("where", ["admit", "clock", "wake"])
@pytest.mark.parametrize("kind", [RuntimeError, KeyboardInterrupt, SystemExit])
def test_what_a_step_raises_goes_to_failed(
    impl: str, wire: bool, where: str, kind: type[BaseException]
) -> None:
    error = kind(where)

    def boom(*args: object) -> Any:
        raise error

    probe = Probe(impl, wire, {where: boom})
    if kind is RuntimeError:
        assert call(probe.tap)(AUDIO, decode(AUDIO)) is None
        assert len(probe.failures) == 1 and probe.failures[0] is error
    else:  # interrupts propagate
        with pytest.raises(kind) as raised:
            probe.tap(AUDIO, decode(AUDIO))
        assert raised.value is error and probe.failures == []
    kept = 1 if where == "wake" else 0  # the record was made before the wake
    assert probe.tap.frames == 1
    assert (probe.tap.wire_records if wire else len(probe.tap.raw)) == kept


@pytest.mark.parametrize("impl", IMPLS)
def test_misuse_raises(impl: str) -> None:
    wire = Probe(impl, wire=True).tap
    wire.append(1.0, "out", "kept", 0)
    with pytest.raises(ValueError):
        wire.append(2.0, "out", decode(TEXT), 0)  # an event: not marshallable
    assert wire.wire_records == 1
    assert decode_wire(wire.take_wire()) == [(1.0, "out", "kept", 0)]
    listed = Probe(impl).tap
    with pytest.raises(TypeError):
        listed.append(1.0, "out", "x", 0)
    with pytest.raises(TypeError):
        listed.take_wire()
    with pytest.raises(TypeError):
        listed.wire_records  # noqa: B018
    for args in [(TEXT,), (TEXT, decode(TEXT), None)]:
        with pytest.raises(TypeError):
            call(listed)(*args)
    assert listed.frames == 0


@NEEDS_C
def test_c_tap_refuses_what_it_cannot_hold() -> None:
    assert CTap is not None
    tap = Probe("c").tap
    with pytest.raises(TypeError):
        tap.raw = cast(list[Record], ())
    fine: tuple[Any, ...] = (lambda *a: 0, lambda: None, print, lambda: 0.0)
    with pytest.raises(TypeError):
        CTap(cast(frozenset[str], list(KINDS)), *fine, invalid=ev.InvalidEvent)
    with pytest.raises(TypeError):
        CTap(KINDS, *fine, invalid=cast(type, "InvalidEvent"))


def test_decode_wire_refuses_bad_data() -> None:
    data = wire_of([(1.0, "in", TEXT, 1)])
    for cut in (data[: HEAD.size - 1], data[:-1]):  # the header, the payload cut short
        with pytest.raises(ValueError, match="cut short"):
            decode_wire(cut)
    with pytest.raises(ValueError, match="unknown record code"):
        decode_wire(data + HEAD.pack(2.0, 0, 9, 0))


@NEEDS_C
@pytest.mark.parametrize("wire", [False, True])
def test_the_c_tap_leaks_nothing(wire: bool) -> None:
    frames: list[Any] = [SESSION, CREATED.encode(), AUDIO, AUDIO.encode(), TEXT, MISSING]
    frames += [bytearray(TEXT.encode()), memoryview(AUDIO.encode()), SURROGATE, "not json"]
    events = [decode(frame) for frame in frames]
    calls = itertools.count()

    def admit(direction: str, kind: str | None, frame: object) -> int:
        if next(calls) % 13 == 0:  # the failure path too
            raise RuntimeError("admit")
        return encoder.admit(direction, kind, frame)

    encoder = RecordEncoder(0.0, False, ())
    failures = itertools.count()  # not kept: the exceptions go
    tap = Probe("c", wire, {"admit": admit, "failed": lambda error: next(failures)}).tap

    def run(rounds: int) -> None:
        for round_ in range(rounds):
            for frame, event in zip(frames, events, strict=True):
                tap(frame, event)
            if wire:
                tap.append(1.0, "out", frames[round_ % len(frames)], 0)
            if round_ % 50 == 0:
                tap.take_wire() if wire else setattr(tap, "raw", [])
        tap.take_wire() if wire else setattr(tap, "raw", [])
        gc.collect()

    run(200)  # warm up: caches, the encoder's state
    counts = [sys.getrefcount(item) for item in (*frames, *events, ev.InvalidEvent)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run(2000)  # 20,000 calls
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert [sys.getrefcount(item) for item in (*frames, *events, ev.InvalidEvent)] == counts
    assert grown < 64 * 1024


@pytest.mark.parametrize("impl", IMPLS)
def test_a_large_wire_round_trips_over_several_takes(impl: str) -> None:
    rng = random.Random(5)
    probe = Probe(impl, wire=True)
    event = decode(TEXT)  # not decided by admit: VALID
    pending: list[Record] = []
    taken = 0
    for number in range(5000):
        size = rng.randrange(3001)
        frame: Any = rng.randbytes(size)
        if number % 4 == 1:
            frame = "".join(rng.choices("ab\u00e9\u2713 {}", k=size // 3))
        elif number % 4 == 2:
            frame = bytearray(frame)
        if number % 4 == 3:
            probe.tap.append(float(number), "out", frame, 0)
            pending.append((float(number), "out", frame, 0))
        else:
            probe.tap(frame, event)
            copy = bytes(frame) if frame.__class__ is bytearray else frame
            pending.append((probe.stamp, "in", copy, 1))
        if number in (150, 1700, 1701, 3900, 4999):  # the C buffer is regrown, reused
            assert probe.tap.wire_records == len(pending)
            data = probe.tap.take_wire()
            assert decode_wire(data) == pending and data == wire_of(pending)
            taken += 1
            pending = []
    assert taken == 5 and probe.failures == []
