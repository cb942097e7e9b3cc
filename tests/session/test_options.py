"""``connect()``'s options are one object, and the session's public surface is documented."""

from __future__ import annotations

import inspect
import pydoc
from typing import Any

import attrs
import pytest

import rxrealtime as rr
from rxrealtime.session import Connecting, ConnectOptions, connect
from rxrealtime.transport import prepare

DOCUMENTED = (
    "events",
    "session",
    "response",
    "conversation",
    "input_audio_buffer",
    "output_audio_buffer",
    "scheduler",
)


def test_connect_takes_exactly_the_fields_of_connect_options() -> None:
    params = inspect.signature(connect).parameters
    fields = attrs.fields(ConnectOptions)
    assert list(params) == [f.name for f in fields]
    for field in fields:
        assert params[field.name].default == field.default, field.name
    model, *keywords = params.values()
    assert model.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in keywords)
    assert rr.connect is connect


def test_transport_options_are_exactly_the_keywords_of_prepare() -> None:
    marked = {f.name for f in attrs.fields(ConnectOptions) if f.metadata.get("transport")}
    keywords = {
        name
        for name, p in inspect.signature(prepare).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    # prepare's own extras: the options object builds websocket_options, tests pass environ
    assert marked == keywords - {"websocket_options", "environ"}


def test_connect_builds_the_options_object() -> None:
    pending = connect("m", api_key="k", base_url="ws://127.0.0.1:1/v1", buffer_size=7)
    assert isinstance(pending, Connecting)
    assert pending.options == ConnectOptions(
        model="m", api_key="k", base_url="ws://127.0.0.1:1/v1", buffer_size=7
    )


@pytest.mark.parametrize(
    "options",
    [
        {"api_key": "k", "base_url": "ws://127.0.0.1:1/v1", "open_timeout": 3.0},
        {"intent": "transcription", "api_key": "k"},
        {"call_id": "call_1", "api_key": "k", "extra_headers": {"X-A": "1"}},
        {"azure_endpoint": "https://x.openai.azure.com", "api_key": "k", "api_version": "v"},
    ],
)
def test_the_connection_config_is_what_prepare_builds(options: dict[str, Any]) -> None:
    env: dict[str, str] = {}
    built = ConnectOptions(**options).connection_config(environ=env)
    model = None if "intent" in options or "call_id" in options else "gpt-realtime"
    direct = {k: v for k, v in options.items() if k != "open_timeout"}
    timeout = {"open_timeout": options["open_timeout"]} if "open_timeout" in options else {}
    expected = prepare(model, **direct, websocket_options=timeout, environ=env)
    assert built.url == expected.url
    assert built.headers == expected.headers
    assert built.websocket_options == expected.websocket_options


@pytest.mark.parametrize("cls", [rr.RealtimeSession, rr.ReplaySession])
def test_help_lists_the_documented_members(cls: type) -> None:
    text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
    for name in DOCUMENTED:
        member = inspect.getattr_static(cls, name)
        assert isinstance(member, property), name
        doc = inspect.getdoc(member)
        assert doc and len(doc) > 20, name
        assert f"\n |  {name}\n |      {doc.splitlines()[0]}" in text, name
