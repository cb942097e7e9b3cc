"""Endpoint: the URL, headers and websockets options of a connection, built without I/O.

The pure part (:func:`prepare`) turns ``connect()`` arguments into a :class:`ConnectionConfig`
exactly as the official ``openai`` SDK would build them (reference §2.1):

* OpenAI: base ``wss://api.openai.com/v1`` (or ``OPENAI_BASE_URL``), ``https→wss``/``http→ws``,
  ``/realtime`` appended to the path, the base URL's own query kept, then ``model=``, then the
  extra query (``intent=`` first when given, ``call_id=`` last); a base-URL query key that is
  given again is dropped from its old place and the new value appended. Headers
  ``Authorization: Bearer <key>`` (``OPENAI_API_KEY``), optional
  ``OpenAI-Organization``/``OpenAI-Project``, a ``User-Agent``, then ``extra_headers`` merged
  case-insensitively (later wins; a ``None`` value removes the header). No ``OpenAI-Beta``.
* Azure (``azure_endpoint=``): ``<endpoint>/openai/realtime?<extra>&api-version=…&deployment=…``
  with an ``api-key`` header (or ``Authorization: Bearer <azure_ad_token>``).

Where the SDK is weak this module is stricter: plain ``ws://`` to a non-loopback host is refused
unless ``allow_insecure=True``; a missing key is a :class:`~rxrealtime.errors.MissingAPIKeyError`
before any I/O (a loopback endpoint, e.g. the embedded server, needs no key); cross-origin
redirects are refused (the credentials never follow a redirect to another origin); frames are
limited to 16 MiB by default instead of unlimited (the service's own limit is 15 MiB per event);
and the websockets debug log of the handshake has the secrets masked.
"""

from __future__ import annotations

import ipaddress
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import attrs

from rxrealtime._version import __version__
from rxrealtime.errors import ConfigurationError, InsecureURLError, MissingAPIKeyError
from rxrealtime.masking import mask_header, ordered_secrets, redact

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_SIZE",
    "ConnectionConfig",
    "QueryValue",
    "is_loopback",
    "prepare",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Largest frame accepted by default (the service's limit is 15 MiB per event).
DEFAULT_MAX_SIZE = 16 * 1024 * 1024
QueryScalar: TypeAlias = str | int | float | bool | None
QueryValue: TypeAlias = QueryScalar | Sequence[QueryScalar]

_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_AUTH_HEADERS = frozenset({"authorization", "api-key"})
_RESERVED_OPTIONS = frozenset({"uri", "additional_headers", "logger"})


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` (and its subdomains), 127.0.0.0/8 and ``::1``."""
    if not host:
        return False
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@attrs.frozen(repr=False)
class ConnectionConfig:
    """Everything needed to open one connection. ``repr`` and :meth:`safe_headers` mask secrets."""

    url: str
    headers: tuple[tuple[str, str], ...]
    websocket_options: Mapping[str, Any]
    secrets: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def safe_headers(self) -> dict[str, str]:
        """The headers with every credential masked, for display and logs."""
        return {k: mask_header(k, v, self.secrets) for k, v in self.headers}

    def __repr__(self) -> str:
        url = redact(self.url, self.secrets)
        return f"ConnectionConfig(url={url!r}, headers={self.safe_headers()!r})"


def _query_items(query: Mapping[str, QueryValue]) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, value in query.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None:
                items.append((key, ""))
            elif isinstance(item, bool):
                items.append((key, "true" if item else "false"))
            else:
                items.append((key, str(item)))
    return items


def _merge_query(existing: list[tuple[str, str]], new: list[tuple[str, str]]) -> str:
    """Drop every ``existing`` pair whose key is in ``new``, then append ``new`` (as the SDK)."""
    replaced = {key for key, _ in new}
    kept = [(k, v) for k, v in existing if k not in replaced]
    return urllib.parse.urlencode(kept + new)


def _realtime_url(base: str, *, suffix: str, query: list[tuple[str, str]]) -> str:
    parts = urllib.parse.urlsplit(base)
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ConfigurationError(
            f"base URL must be an absolute http(s):// or ws(s):// URL, got {parts.scheme!r} scheme"
        )
    existing = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    path = parts.path.rstrip("/") + suffix
    return urllib.parse.urlunsplit((scheme, parts.netloc, path, _merge_query(existing, query), ""))


def _merge_headers(*sets: Mapping[str, str | None]) -> tuple[tuple[str, str], ...]:
    merged: dict[str, tuple[str, str | None]] = {}
    for header_set in sets:
        for key, value in header_set.items():
            merged[key.lower()] = (key, value)
    return tuple((k, v) for k, v in merged.values() if v is not None)


def _user_agent() -> str:
    return f"rxrealtime/{__version__}"


def prepare(
    model: str | None = "gpt-realtime",
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
    environ: Mapping[str, str] | None = None,
) -> ConnectionConfig:
    """Build the URL, headers and websockets options for one connection; no I/O.

    ``environ`` (default ``os.environ``) supplies ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
    ``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID`` and, for Azure, ``AZURE_OPENAI_API_KEY``,
    ``AZURE_OPENAI_AD_TOKEN`` and ``OPENAI_API_VERSION``, as the SDK reads them.

    Raises :class:`~rxrealtime.errors.ConfigurationError` (or a subclass) when the arguments
    cannot work. The key never appears in any message.
    """
    env = os.environ if environ is None else environ
    extra: dict[str, QueryValue] = {}
    if intent is not None:
        extra["intent"] = intent
    extra.update(extra_query or {})
    if call_id is not None:
        extra["call_id"] = call_id

    if azure_endpoint is not None:
        return _prepare_azure(
            model,
            env=env,
            api_key=api_key,
            azure_endpoint=azure_endpoint,
            azure_deployment=azure_deployment,
            api_version=api_version,
            azure_ad_token=azure_ad_token,
            extra=extra,
            extra_headers=extra_headers or {},
            allow_insecure=allow_insecure,
            websocket_options=websocket_options,
        )

    base = base_url if base_url is not None else env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    query = _query_items({"model": model} if model is not None else {})
    url = _realtime_url(base, suffix="/realtime", query=_merge_qpairs(query, extra))
    host = urllib.parse.urlsplit(url).hostname
    _check_scheme(url, host, allow_insecure)

    key = api_key if api_key is not None else env.get("OPENAI_API_KEY")
    user_headers = dict(extra_headers or {})
    has_user_auth = any(k.lower() == "authorization" for k in user_headers)
    if not key and not has_user_auth and not is_loopback(host):
        raise MissingAPIKeyError(
            "no API key: pass api_key=... or set the OPENAI_API_KEY environment variable "
            f"(only loopback endpoints may be used without one; host is {host!r})"
        )
    org = organization if organization is not None else env.get("OPENAI_ORG_ID")
    proj = project if project is not None else env.get("OPENAI_PROJECT_ID")
    base_headers: dict[str, str | None] = {}
    if key:
        base_headers["Authorization"] = f"Bearer {key}"
    if org:
        base_headers["OpenAI-Organization"] = org
    if proj:
        base_headers["OpenAI-Project"] = proj
    base_headers["User-Agent"] = _user_agent()
    headers = _merge_headers(base_headers, user_headers)
    return ConnectionConfig(
        url=url,
        headers=headers,
        websocket_options=_options(websocket_options),
        secrets=_secrets(key, headers),
    )


def _merge_qpairs(
    first: list[tuple[str, str]], extra: Mapping[str, QueryValue]
) -> list[tuple[str, str]]:
    """``{**first, **extra}`` on query pairs: a key of ``extra`` replaces the same key in place."""
    as_map: dict[str, list[str]] = {}
    for key, value in first:
        as_map.setdefault(key, []).append(value)
    added = _query_items(extra)
    for key in dict.fromkeys(k for k, _ in added):
        as_map[key] = []
    for key, value in added:
        as_map[key].append(value)
    return [(k, v) for k, vs in as_map.items() for v in vs]


def _prepare_azure(
    model: str | None,
    *,
    env: Mapping[str, str],
    api_key: str | None,
    azure_endpoint: str,
    azure_deployment: str | None,
    api_version: str | None,
    azure_ad_token: str | None,
    extra: dict[str, QueryValue],
    extra_headers: Mapping[str, str | None],
    allow_insecure: bool,
    websocket_options: Mapping[str, Any] | None,
) -> ConnectionConfig:
    version = api_version if api_version is not None else env.get("OPENAI_API_VERSION")
    if not version:
        raise ConfigurationError("Azure needs api_version=... (or OPENAI_API_VERSION)")
    deployment = azure_deployment or model
    if not deployment:
        raise ConfigurationError("Azure needs model=... or azure_deployment=...")
    query = _merge_qpairs(_query_items(extra), {"api-version": version, "deployment": deployment})
    url = _realtime_url(azure_endpoint, suffix="/openai/realtime", query=query)
    host = urllib.parse.urlsplit(url).hostname
    _check_scheme(url, host, allow_insecure)
    key = api_key if api_key is not None else env.get("AZURE_OPENAI_API_KEY")
    token = azure_ad_token if azure_ad_token is not None else env.get("AZURE_OPENAI_AD_TOKEN")
    auth: dict[str, str | None] = {}
    if key:
        auth["api-key"] = key
    elif token:
        auth["Authorization"] = f"Bearer {token}"
    elif not any(k.lower() in _AUTH_HEADERS for k in extra_headers) and not is_loopback(host):
        raise MissingAPIKeyError(
            "no Azure credential: pass api_key=... or azure_ad_token=..., or set "
            "AZURE_OPENAI_API_KEY / AZURE_OPENAI_AD_TOKEN"
        )
    auth["User-Agent"] = _user_agent()
    headers = _merge_headers(auth, extra_headers)
    return ConnectionConfig(
        url=url,
        headers=headers,
        websocket_options=_options(websocket_options),
        secrets=_secrets(key or token, headers),
    )


def _check_scheme(url: str, host: str | None, allow_insecure: bool) -> None:
    if url.startswith("ws://") and not allow_insecure and not is_loopback(host):
        raise InsecureURLError(
            f"refusing plain ws:// to non-loopback host {host!r}: credentials and audio would "
            "travel unencrypted; use wss:// (https://) or pass allow_insecure=True"
        )


def _secrets(key: str | None, headers: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    found = {key} if key else set()
    for name, value in headers:
        if name.lower() in _AUTH_HEADERS and value:
            found.add(value)
            if value.lower().startswith("bearer "):
                found.add(value[7:].strip())
    # longest first so a "Bearer <key>" is masked as a whole before the bare key
    return ordered_secrets(found)


def _options(user: Mapping[str, Any] | None) -> dict[str, Any]:
    options = dict(user or {})
    clash = _RESERVED_OPTIONS.intersection(options)
    if clash:
        raise ConfigurationError(
            f"websocket_options may not set {sorted(clash)}; use extra_headers for headers"
        )
    options.setdefault("max_size", DEFAULT_MAX_SIZE)
    options.setdefault("compression", None)  # permessage-deflate off unless asked, as the SDK
    return options
