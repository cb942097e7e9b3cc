"""Fixtures of the README test: audio devices for blocks marked ``# needs: audio devices``.

They are the voice tests' PulseAudio server (``tests/voice/conftest.py``: null sinks, real
device paths, skipped locally without ``pulseaudio`` and failing on CI), loaded from there so
there is one definition of it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

VOICE = Path(__file__).resolve().parents[1] / "voice"


def _voice_fixtures() -> Any:
    if str(VOICE) not in sys.path:
        sys.path.insert(0, str(VOICE))  # the voice conftest imports voice_helpers
    spec = importlib.util.spec_from_file_location("readme_voice_fixtures", VOICE / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pulse = _voice_fixtures().pulse  # the same fixture, registered for tests/docs


@pytest.fixture(scope="module")
def audio_devices(pulse: Any) -> dict[str, str]:
    """The environment that makes the PulseAudio null devices the default microphone (the
    ``user`` sink's monitor: silence unless something plays into it) and speaker (``room``)."""
    return {**pulse.env, "PULSE_SINK": "room", "PULSE_SOURCE": "user.monitor"}
