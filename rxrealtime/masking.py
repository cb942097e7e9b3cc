"""Secret masking: the one implementation behind every log line, exception, recording and header.

Pure functions, no I/O and no imports from the rest of the package, so every layer (the
transport, the session, the sinks, the recording format and the embedded server) can share it.

Rules
-----

* :func:`redact` replaces every occurrence of each secret in a text by :data:`MASK`
  (``"***"``). Secrets are applied longest first, so a secret that contains another one (a
  ``"Bearer <key>"`` value and the bare key) is masked whole. Empty and ``None`` secrets are
  ignored.
* :func:`redact_truncated` masks *before* it cuts: a secret that straddles the cut can never
  leave a recognisable prefix behind.
* :func:`is_secret_key` names the header / field names whose value is a credential whatever it
  contains (``Authorization``, ``api-key``, ``api_key``, ``x-api-key``, …, case-insensitive);
  :func:`mask_header` masks such a value whole and redacts any other.
* :func:`scrub` copies a JSON-like value (dicts, lists, tuples, scalars) with every string
  (keys and values, at any depth) redacted, the value of every secret key masked whole, and any
  string that starts with ``"Bearer "`` masked to ``"Bearer ***"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "MASK",
    "SECRET_KEYS",
    "is_secret_key",
    "mask_header",
    "ordered_secrets",
    "redact",
    "redact_truncated",
    "scrub",
]

MASK = "***"
"""What a secret is replaced by."""

SECRET_KEYS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "api_key", "apikey", "x-api-key"}
)
"""Lower-case header / field names whose value is always a credential."""

_BEARER = "bearer "


def ordered_secrets(secrets: Iterable[str | None]) -> tuple[str, ...]:
    """The distinct non-empty ``secrets``, longest first (the order :func:`redact` applies)."""
    return tuple(sorted({secret for secret in secrets if secret}, key=len, reverse=True))


def is_secret_key(name: str) -> bool:
    """Whether a header or field called ``name`` holds a credential (case-insensitive)."""
    return name.lower() in SECRET_KEYS


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every occurrence of every non-empty secret replaced by ``***``."""
    for secret in ordered_secrets(secrets):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_truncated(
    text: str, secrets: Iterable[str | None], limit: int, *, marker: str = "…"
) -> str:
    """``text`` redacted, *then* cut to at most ``limit`` characters (plus ``marker`` if cut).

    Masking first means no part of a secret survives near the cut, whatever its position.
    """
    masked = redact(text, secrets)
    return masked if len(masked) <= limit else masked[:limit] + marker


def mask_header(name: str, value: str, secrets: Iterable[str | None] = ()) -> str:
    """The displayable value of header ``name``: masked whole for a credential header,
    redacted otherwise."""
    return MASK if is_secret_key(name) else redact(value, secrets)


def scrub(value: Any, secrets: Iterable[str | None]) -> Any:
    """A copy of the JSON-like ``value`` with secrets masked (see the module's rules).

    Mappings become ``dict`` (keys as ``str``), tuples become lists; other values are returned
    as they are.
    """
    return _scrub(value, ordered_secrets(secrets))


def _text(text: str, secrets: tuple[str, ...]) -> str:
    if text[:7].lower() == _BEARER:
        return "Bearer " + MASK
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    # Iterative, not recursive: a value of any depth (a hostile frame nested thousands of
    # levels deep) is scrubbed without reaching the interpreter's recursion limit.
    if isinstance(value, str):
        return _text(value, secrets)
    if not isinstance(value, Mapping | list | tuple):
        return value
    root: list[Any] = [None]
    pending: list[tuple[Any, Any, Any]] = [(value, root, 0)]  # (source, its container, slot)
    while pending:
        source, container, slot = pending.pop()
        if isinstance(source, Mapping):
            copy: Any = {}
            for key, item in source.items():
                name = str(key)
                masked = _text(name, secrets)
                if name.lower() in SECRET_KEYS:
                    copy[masked] = MASK
                elif isinstance(item, str):
                    copy[masked] = _text(item, secrets)
                elif isinstance(item, Mapping | list | tuple):
                    copy[masked] = None
                    pending.append((item, copy, masked))
                else:
                    copy[masked] = item
        else:
            copy = []
            for item in source:
                if isinstance(item, str):
                    copy.append(_text(item, secrets))
                elif isinstance(item, Mapping | list | tuple):
                    pending.append((item, copy, len(copy)))
                    copy.append(None)
                else:
                    copy.append(item)
        container[slot] = copy
    return root[0]
