"""The one secret-masking implementation (``rxrealtime.masking``): pure, no I/O."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from rxrealtime import errors, masking
from rxrealtime.masking import (
    MASK,
    is_secret_key,
    mask_header,
    ordered_secrets,
    redact,
    redact_truncated,
    scrub,
)

KEY = "sk-test-MASKING-0123456789abcdef"


def test_redact_masks_every_occurrence_longest_secret_first() -> None:
    bearer = f"Bearer {KEY}"
    text = f"a {bearer} b {KEY} c"
    assert redact(text, [KEY, bearer]) == "a *** b *** c"
    assert redact(text, [None, "", KEY]) == "a Bearer *** b *** c"
    assert redact("nothing here", [KEY]) == "nothing here"
    assert ordered_secrets([KEY, None, bearer, KEY, ""]) == (bearer, KEY)


def test_errors_redact_is_the_masking_one() -> None:
    assert errors.redact is masking.redact


@given(
    before=st.text(alphabet=string.ascii_lowercase, max_size=60),
    after=st.text(alphabet=string.ascii_lowercase, max_size=60),
    limit=st.integers(min_value=0, max_value=150),
)
def test_redact_truncated_masks_before_it_cuts(before: str, after: str, limit: int) -> None:
    """Wherever the cut falls, not one character of the key survives (issue 12, point 6)."""
    secret = "SK" + string.digits + string.ascii_uppercase
    out = redact_truncated(before + secret + after, [secret], limit)
    assert not set(out) & set(secret)
    masked = before + MASK + after
    assert out == (masked if len(masked) <= limit else masked[:limit] + "…")


def test_credential_headers_are_masked_whole() -> None:
    for name in ("Authorization", "api-key", "API_KEY", "x-api-key", "Proxy-Authorization"):
        assert is_secret_key(name)
        assert mask_header(name, "anything at all") == MASK
    assert not is_secret_key("OpenAI-Beta")
    assert mask_header("X-Echo", f"got {KEY}", [KEY]) == "got ***"


def test_scrub_masks_keys_values_bearer_strings_and_secret_fields_at_any_depth() -> None:
    value = {
        "api_key": "plain",
        f"field-{KEY}": [f"x{KEY}y", ("Bearer abc", 3, None, True)],
        "nested": {"Authorization": {"deep": 1}, "ok": 2.5},
    }
    assert scrub(value, [KEY]) == {
        "api_key": MASK,
        "field-***": ["x***y", ["Bearer ***", 3, None, True]],
        "nested": {"Authorization": MASK, "ok": 2.5},
    }
    assert value["api_key"] == "plain"  # a copy: the argument is untouched
    assert scrub(f"raw {KEY}", [KEY]) == "raw ***"
