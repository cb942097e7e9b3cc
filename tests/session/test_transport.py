"""URL/header building against the official SDK as the oracle, plus the stricter checks."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from rxrealtime import transport
from rxrealtime.errors import ConfigurationError, InsecureURLError, MissingAPIKeyError

openai = pytest.importorskip("openai")

KEY = "sk-test-0123456789abcdef"


class _Captured(Exception):
    def __init__(self, url: str, headers: dict[str, str], options: dict[str, Any]) -> None:
        super().__init__(url)
        self.url, self.headers, self.options = url, headers, options


def _fake_connect(url: str, *, additional_headers: Any, **options: Any) -> Any:
    raise _Captured(url, dict(additional_headers), options)


@pytest.fixture
def oracle(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run the SDK's own connect() until the socket would open; return what it would send."""
    import openai.lib._azure_websocket as azure_ws
    import openai.lib._websocket as sdk_ws

    monkeypatch.setattr(sdk_ws, "_WebSocketConnect", _fake_connect)
    monkeypatch.setattr(azure_ws, "_AzureWebSocketConnect", _fake_connect)
    for name in ("OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)

    async def run(client: Any, **kwargs: Any) -> _Captured:
        with pytest.raises(_Captured) as info:
            await client.realtime.connect(**kwargs).__aenter__()
        return info.value

    return run


def _ours(**kwargs: Any) -> transport.ConnectionConfig:
    kwargs.setdefault("environ", {})
    return transport.prepare(**kwargs)


def _comparable(headers: Any) -> dict[str, str]:
    """Headers both sides must agree on (the SDK adds its own telemetry and content headers)."""
    ignore = {"user-agent", "accept", "content-type"}
    return {
        k.lower(): v
        for k, v in dict(headers).items()
        if k.lower() not in ignore and not k.lower().startswith("x-stainless")
    }


CASES: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    # (client kwargs, connect kwargs, our kwargs)
    ({}, {"model": "gpt-realtime"}, {"model": "gpt-realtime"}),
    (
        {"base_url": "http://localhost:8080/v1"},
        {"model": "m"},
        {"model": "m", "base_url": "http://localhost:8080/v1"},
    ),
    (
        {"base_url": "https://proxy.example.com/openai/v1/"},
        {"model": "m", "extra_query": {"a": "1 2", "b": None}},
        {
            "model": "m",
            "base_url": "https://proxy.example.com/openai/v1/",
            "extra_query": {"a": "1 2", "b": None},
        },
    ),
    (
        {"websocket_base_url": "ws://127.0.0.1:9000/custom/v1?x=1"},
        {"model": "m"},
        {"model": "m", "base_url": "ws://127.0.0.1:9000/custom/v1?x=1"},
    ),
    (
        {"websocket_base_url": "wss://h.example/v1?x=1&model=old"},
        {"model": "new", "extra_query": {"x": ["2", "3"], "flag": True}},
        {
            "model": "new",
            "base_url": "wss://h.example/v1?x=1&model=old",
            "extra_query": {"x": ["2", "3"], "flag": True},
        },
    ),
    ({}, {"call_id": "rtc_123"}, {"model": None, "call_id": "rtc_123"}),
    (
        {},
        {"model": "m", "call_id": "rtc_1", "extra_query": {"call_id": "ignored", "z": "1"}},
        {"model": "m", "call_id": "rtc_1", "extra_query": {"call_id": "ignored", "z": "1"}},
    ),
    ({}, {"extra_query": {"intent": "transcription"}}, {"model": None, "intent": "transcription"}),
    (
        {"organization": "org-1", "project": "proj-1"},
        {"model": "m", "extra_headers": {"X-Custom": "1", "authorization": "Bearer other"}},
        {
            "model": "m",
            "organization": "org-1",
            "project": "proj-1",
            "extra_headers": {"X-Custom": "1", "authorization": "Bearer other"},
        },
    ),
]


@pytest.mark.parametrize(("client_kw", "connect_kw", "ours_kw"), CASES)
async def test_url_and_headers_match_the_sdk(
    oracle: Any, client_kw: dict[str, Any], connect_kw: dict[str, Any], ours_kw: dict[str, Any]
) -> None:
    client = openai.AsyncOpenAI(api_key=KEY, **client_kw)
    sdk = await oracle(client, **connect_kw)
    ours = _ours(api_key=KEY, allow_insecure=True, **ours_kw)
    assert ours.url == sdk.url
    assert _comparable(ours.headers) == _comparable(sdk.headers)
    assert "openai-beta" not in {k.lower() for k, _ in ours.headers}


@pytest.mark.parametrize(
    ("azure_kw", "connect_kw", "ours_kw"),
    [
        ({}, {"model": "gpt-realtime"}, {"model": "gpt-realtime"}),
        (
            {"azure_deployment": "dep"},
            {"model": "gpt-realtime"},
            {"model": "gpt-realtime", "azure_deployment": "dep"},
        ),
        (
            {},
            {"model": "m", "call_id": "c1", "extra_query": {"q": "v"}},
            {"model": "m", "call_id": "c1", "extra_query": {"q": "v"}},
        ),
    ],
)
async def test_azure_matches_the_sdk(
    oracle: Any, azure_kw: dict[str, Any], connect_kw: dict[str, Any], ours_kw: dict[str, Any]
) -> None:
    endpoint = "https://res.openai.azure.com/"
    client = openai.AsyncAzureOpenAI(
        api_key=KEY, azure_endpoint=endpoint, api_version="2025-04-01-preview", **azure_kw
    )
    sdk = await oracle(client, **connect_kw)
    ours = _ours(api_key=KEY, azure_endpoint=endpoint, api_version="2025-04-01-preview", **ours_kw)
    assert ours.url == sdk.url
    assert _comparable(ours.headers) == _comparable(sdk.headers)
    assert ours.header("api-key") == KEY
    assert ours.header("authorization") is None


async def test_sdk_websocket_options_defaults_compared(oracle: Any) -> None:
    sdk = await oracle(openai.AsyncOpenAI(api_key=KEY), model="m")
    ours = _ours(api_key=KEY, model="m")
    # Same compression default; we bound max_size where the SDK leaves it unlimited.
    assert sdk.options["compression"] is None and ours.websocket_options["compression"] is None
    assert sdk.options["max_size"] is None
    assert ours.websocket_options["max_size"] == 16 * 1024 * 1024
    custom = _ours(
        api_key=KEY,
        websocket_options={"max_size": 10, "compression": "deflate", "ping_interval": None},
    )
    assert dict(custom.websocket_options) == {
        "max_size": 10,
        "compression": "deflate",
        "ping_interval": None,
    }


def test_environment_defaults() -> None:
    env = {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": "https://gw.example/v1",
        "OPENAI_PROJECT_ID": "p",
    }
    config = transport.prepare("m", environ=env)
    assert config.url == "wss://gw.example/v1/realtime?model=m"
    assert config.header("Authorization") == f"Bearer {KEY}"
    assert config.header("openai-project") == "p"
    assert config.header(
        "user-agent",
    ).startswith("rxrealtime/")  # type: ignore[union-attr]


def test_extra_header_none_removes_a_header() -> None:
    config = _ours(api_key=KEY, extra_headers={"user-agent": None, "X-A": "b"})
    assert config.header("User-Agent") is None
    assert config.header("x-a") == "b"


def test_missing_key_is_a_clear_error_without_io() -> None:
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        _ours(model="m")
    with pytest.raises(MissingAPIKeyError, match="AZURE_OPENAI_API_KEY"):
        _ours(model="m", azure_endpoint="https://r.openai.azure.com", api_version="v")


@pytest.mark.parametrize(
    "base", ["ws://127.0.0.1:1/v1", "http://localhost:1/v1", "ws://[::1]:1/v1"]
)
def test_loopback_needs_no_key_and_may_be_plain(base: str) -> None:
    config = _ours(model="m", base_url=base)
    assert config.url.startswith("ws://")
    assert config.header("Authorization") is None


@pytest.mark.parametrize(
    "base", ["ws://example.com/v1", "http://10.0.0.5:8080/v1", "ws://localhost.evil.com/v1"]
)
def test_plain_ws_to_non_loopback_is_refused(base: str) -> None:
    with pytest.raises(InsecureURLError, match="allow_insecure"):
        _ours(model="m", api_key=KEY, base_url=base)
    assert _ours(model="m", api_key=KEY, base_url=base, allow_insecure=True).url.startswith("ws://")


def test_bad_arguments() -> None:
    with pytest.raises(ConfigurationError, match="scheme"):
        _ours(model="m", api_key=KEY, base_url="ftp://x/v1")
    with pytest.raises(ConfigurationError, match="api_version"):
        _ours(model="m", api_key=KEY, azure_endpoint="https://r.openai.azure.com")
    with pytest.raises(ConfigurationError, match="extra_headers"):
        _ours(model="m", api_key=KEY, websocket_options={"additional_headers": {}})


def test_secrets_never_in_repr() -> None:
    config = _ours(model="m", api_key=KEY, extra_headers={"X-Key-Copy": KEY})
    text = repr(config) + str(config) + repr(config.safe_headers())
    assert KEY not in text
    assert "***" in text
    azure = _ours(
        model="m", api_key=KEY, azure_endpoint="https://r.openai.azure.com", api_version="v"
    )
    assert KEY not in repr(azure)


def test_redacting_logger_masks_the_key(caplog: pytest.LogCaptureFixture) -> None:
    config = _ours(model="m", api_key=KEY)
    logger = transport._RedactingLogger(logging.getLogger("websockets.client"), config.secrets)
    with caplog.at_level(logging.DEBUG, logger="websockets.client"):
        logger.debug("> %s: %s", "Authorization", f"Bearer {KEY}")
    assert KEY not in caplog.text
    assert "Authorization: ***" in caplog.text


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("[::1]", True),
        ("a.localhost", True),
        ("localhost.evil", False),
        ("10.0.0.1", False),
        ("example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback(host: str | None, expected: bool) -> None:
    assert transport.is_loopback(host) is expected
