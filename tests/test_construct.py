"""``rxrealtime._construct.slot_builder``: the C builder and the pure-Python one give the same
instances, refuse what they cannot build, and neither leaks nor escapes the garbage collector."""

from __future__ import annotations

import gc
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import weakref
from pathlib import Path
from typing import Any

import attrs
import pytest

from rxrealtime import _construct
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime._construct import slot_builder

ROOT = Path(__file__).resolve().parent.parent


def _compiler_exists() -> bool:
    """Whether the install could compile the extension: a C compiler and Python's headers."""
    compiler = sysconfig.get_config_var("CC") or "cc"
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    return shutil.which(shlex.split(compiler)[0]) is not None and headers.exists()


def test_the_install_built_the_c_builder_where_a_compiler_exists() -> None:
    if os.environ.get("RXREALTIME_PURE_PYTHON") == "1":
        assert not _construct.NATIVE
    elif _compiler_exists():
        assert _construct.NATIVE, "pip install -e . should have compiled rxrealtime/_native.c"


def _python_builder(cls: type) -> Any:
    return _construct._python_builder(cls, tuple(f.name for f in attrs.fields(cls)))


DELTA = {
    "event_id": "evt_1", "type": "response.output_audio.delta", "response_id": "resp_1",
    "item_id": "item_1", "output_index": 0, "content_index": 1, "delta": "AAAA", "extra": {},
}  # fmt: skip


def _in_field_order(cls: type, values: dict[str, Any]) -> list[Any]:
    return [values[field.name] for field in attrs.fields(cls)]


@pytest.mark.parametrize("make", [slot_builder, _python_builder], ids=["in use", "pure"])
def test_a_built_instance_is_an_ordinary_frozen_instance(make: Any) -> None:
    built = make(ev.ResponseOutputAudioDelta)(*_in_field_order(ev.ResponseOutputAudioDelta, DELTA))
    usual = ev.ResponseOutputAudioDelta(
        event_id="evt_1", response_id="resp_1", item_id="item_1", output_index=0,
        content_index=1, delta="AAAA",
    )  # fmt: skip
    assert type(built) is ev.ResponseOutputAudioDelta
    assert built == usual and hash(built) == hash(usual) and repr(built) == repr(usual)
    assert attrs.evolve(built, delta="BBBB").delta == "BBBB"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.delta = "changed"  # type: ignore[misc]


def test_the_c_builder_refuses_what_it_cannot_build() -> None:
    try:
        from rxrealtime._native import SlotBuilder
    except ImportError:  # not compiled: only acceptable where no C compiler exists
        assert not _compiler_exists(), "pip install -e . should have compiled rxrealtime/_native.c"
        return

    build = SlotBuilder(ev.ResponseOutputAudioDelta, ("event_id", "delta"))
    with pytest.raises(TypeError, match="takes 2 values, not 3"):
        build("a", "b", "c")
    with pytest.raises(TypeError, match="by position only"):
        build("a", delta="b")
    with pytest.raises(TypeError, match="'nope' is not a writable object slot"):
        SlotBuilder(ev.ResponseOutputAudioDelta, ("nope",))
    with pytest.raises(TypeError, match="'__init__' is not a writable object slot"):
        SlotBuilder(ev.ResponseOutputAudioDelta, ("__init__",))

    class Plain:  # instances have a __dict__
        pass

    with pytest.raises(TypeError, match="__slots__ and no __dict__"):
        SlotBuilder(Plain, ())
    with pytest.raises(TypeError):
        SlotBuilder("not a class", ())  # type: ignore[arg-type]


@attrs.frozen
class _Checked:
    value: int = attrs.field(validator=attrs.validators.instance_of(int))


@attrs.define(slots=False)
class _NoSlots:
    value: int


def test_slot_builder_refuses_classes_whose_init_does_more_than_store() -> None:
    with pytest.raises(TypeError, match="has a converter or validator"):
        slot_builder(_Checked)
    with pytest.raises(TypeError, match="not a slotted attrs class"):
        slot_builder(_NoSlots)
    with pytest.raises(TypeError, match="not a slotted attrs class"):
        slot_builder(dict)


def test_building_takes_one_reference_per_value_and_gives_it_back() -> None:
    build = slot_builder(ev.ResponseOutputAudioDelta)
    payload = "x" * 1000  # a value no one else holds
    values = _in_field_order(ev.ResponseOutputAudioDelta, {**DELTA, "delta": payload})
    before = sys.getrefcount(payload)
    kept = [build(*values) for _ in range(1000)]
    assert sys.getrefcount(payload) == before + 1000
    del kept
    assert sys.getrefcount(payload) == before


def test_an_instance_in_a_reference_cycle_is_collected() -> None:
    build = slot_builder(ev.ResponseOutputAudioDelta)
    extra: dict[str, Any] = {}
    instance = build(*_in_field_order(ev.ResponseOutputAudioDelta, {**DELTA, "extra": extra}))
    extra["me"] = instance  # instance -> extra -> instance
    gone = weakref.ref(instance)
    del instance, extra
    gc.collect()
    assert gone() is None


def test_operator_records_are_built_the_same_way() -> None:
    chunk = ops.AudioChunk(
        data=b"\x00\x01", format="pcm16", sample_rate=24000, item_id="i", response_id="r",
        content_index=0, offset_ms=0.0, duration_ms=1.0,
    )  # fmt: skip
    values = [getattr(chunk, f.name) for f in attrs.fields(ops.AudioChunk)]
    assert slot_builder(ops.AudioChunk)(*values) == chunk
    assert _python_builder(ops.AudioChunk)(*values) == chunk


_DECODE_ALL = """
import sys
sys.path.insert(0, "benchmarks")
from bench_codec import voice_turn
from rxrealtime import _construct
from rxrealtime.events import decode
print(_construct.NATIVE)
import orjson
for frame in voice_turn(audio_deltas=3, transcript_deltas=3):
    print(repr(decode(frame)))
    # the general path: an unknown key goes to ``extra``
    print(repr(decode(orjson.dumps({**orjson.loads(frame), "zz": 1}))))
for line in open("tests/data/liusida-dictionary_beta_text_response.jsonl"):
    print(repr(decode(line)))
"""


def test_the_pure_python_builder_decodes_exactly_what_the_c_one_does() -> None:
    def decoded(pure: bool) -> list[str]:
        env = {k: v for k, v in os.environ.items() if k != "RXREALTIME_PURE_PYTHON"}
        if pure:
            env["RXREALTIME_PURE_PYTHON"] = "1"
        done = subprocess.run(
            [sys.executable, "-c", _DECODE_ALL],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=True,
        )  # fmt: skip
        return done.stdout.splitlines()

    pure, default = decoded(pure=True), decoded(pure=False)
    assert pure[0] == "False"
    assert len(pure) > 100 and pure[1:] == default[1:]
    assert sum("'zz': 1" in line for line in pure) > 20  # ... the general one included
