"""TextPrinter: words streamed as they arrive, one line per response, GA and beta names."""

from __future__ import annotations

import io

import pytest
import reactivex
from reactivex.testing import ReactiveTest, TestScheduler
from sinks_helpers import audio_delta, response_done, session_created, text_delta, transcript_delta

from rxrealtime.sinks import TextPrinter


class Spy(io.StringIO):
    """Records what was visible after each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        super().flush()
        self.flushed.append(self.getvalue())


def test_words_appear_as_they_arrive_and_each_response_ends_a_line() -> None:
    stream = Spy()
    printer = TextPrinter(stream)
    events = [
        session_created(),
        text_delta("Hel", "r1"),
        text_delta("lo!", "r1", beta=True),
        response_done("r1"),
        transcript_delta("Bon", "r2"),
        audio_delta(b"\x00\x00", "r2"),
        transcript_delta("jour", "r2", beta=True),
        response_done("r2"),
        response_done("r3"),  # a response that printed nothing: no blank line
    ]
    reactivex.from_iterable(events).subscribe(printer)
    assert stream.getvalue() == "Hello!\nBonjour\n"
    assert stream.flushed[:2] == ["Hel", "Hello!"]


def test_words_are_written_at_their_virtual_arrival_time() -> None:
    scheduler = TestScheduler()
    stream = Spy()
    source = scheduler.create_hot_observable(
        ReactiveTest.on_next(210, text_delta("a")),
        ReactiveTest.on_next(220, text_delta("b")),
        ReactiveTest.on_completed(230),
    )
    source.subscribe(TextPrinter(stream))
    seen: list[tuple[float, str]] = []
    for at in (215, 225, 235):
        scheduler.advance_to(at)
        seen.append((at, stream.getvalue()))
    assert seen == [(215, "a"), (225, "ab"), (235, "ab\n")]


def test_transcripts_can_be_left_out() -> None:
    stream = io.StringIO()
    events = [transcript_delta("spoken"), text_delta("written"), response_done()]
    reactivex.from_iterable(events).subscribe(TextPrinter(stream, transcripts=False))
    assert stream.getvalue() == "written\n"


def test_no_extra_newline_after_text_ending_in_one_and_line_closed_on_error() -> None:
    stream = io.StringIO()
    reactivex.from_iterable([text_delta("line\n"), response_done()]).subscribe(TextPrinter(stream))
    assert stream.getvalue() == "line\n"

    stream = io.StringIO()
    reactivex.concat(
        reactivex.of(text_delta("cut")), reactivex.throw(RuntimeError("dropped"))
    ).subscribe(TextPrinter(stream))
    assert stream.getvalue() == "cut\n"


def test_default_stream_is_stdout_at_write_time(capsys: pytest.CaptureFixture[str]) -> None:
    printer = TextPrinter()
    reactivex.from_iterable([text_delta("to stdout"), response_done()]).subscribe(printer)
    assert capsys.readouterr().out == "to stdout\n"
