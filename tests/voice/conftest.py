"""Real audio devices for the voice tests, on a machine with no sound card.

A PulseAudio server runs for the test session in a temporary directory, with two null sinks:
``room`` (what a speaker plays into; its monitor source records it back) and ``user`` (what
"the user says" is played into, for a microphone on its monitor). Null sinks are paced in real
time by PulseAudio's own clock, so these are true device paths: PortAudio -> ALSA -> the
``pulse`` ALSA plugin -> PulseAudio, and back through a monitor source.

ALSA learns the device names from a configuration written next to the server
(``ALSA_CONFIG_PATH``): it includes the system's ``alsa.conf`` and adds one PCM per sink and
monitor, so PortAudio lists them as ``rxr_room``, ``rxr_room_monitor``, ``rxr_user``,
``rxr_user_monitor``. ``.ci/run`` installs what this needs (``pulseaudio``,
``libasound2-plugins``, ``libportaudio2``); without the ``pulseaudio`` binary the tests are
skipped locally and fail on CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from voice_helpers import Pulse

SINKS = {"room": (48000, 2), "user": (44100, 1)}
"""Null sinks: name -> (rate, channels) of the sink itself (PulseAudio converts to them)."""

_PCM = """pcm.rxr_{name} {{
    type pulse
    device "{device}"
    hint {{ show on description "rxrealtime test {device}" }}
}}
"""


def _config(directory: Path) -> dict[str, str]:
    client = directory / "client.conf"
    client.write_text("autospawn = no\n", encoding="utf-8")
    pcms = [_PCM.format(name=name, device=name) for name in SINKS]
    pcms += [_PCM.format(name=f"{name}_monitor", device=f"{name}.monitor") for name in SINKS]
    asound = directory / "asound.conf"
    asound.write_text("<confdir:alsa.conf>\n" + "".join(pcms), encoding="utf-8")
    return {
        "PULSE_SERVER": f"unix:{directory / 'native'}",
        "PULSE_CLIENTCONFIG": str(client),
        "PULSE_RUNTIME_PATH": str(directory),
        "ALSA_CONFIG_PATH": str(asound),
    }


def _wait_for_socket(path: Path, process: subprocess.Popen[bytes], limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pulseaudio exited with status {process.returncode}")
        if path.exists():
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(path))
                    return
                except OSError:
                    pass
        time.sleep(0.05)
    raise RuntimeError(f"pulseaudio did not listen on {path} within {limit} s")


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pulse]:
    """The PulseAudio server, with the process environment pointing at it (restored after)."""
    binary = shutil.which("pulseaudio")
    if binary is None:
        message = "pulseaudio is not installed (apt-get install pulseaudio libasound2-plugins)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    directory = tmp_path_factory.mktemp("pulse")
    env = _config(directory)
    modules = [f"module-native-protocol-unix socket={directory / 'native'} auth-anonymous=1"]
    modules += [
        f"module-null-sink sink_name={name} rate={rate} channels={channels}"
        for name, (rate, channels) in SINKS.items()
    ]
    server_env = {**os.environ, **env, "HOME": str(directory), "XDG_RUNTIME_DIR": str(directory)}
    server_env.pop("PULSE_SERVER")
    log = (directory / "pulseaudio.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--use-pid-file=no",
            "--system=no",
            "--log-target=stderr",
            "-n",
            *(f"--load={module}" for module in modules),
        ],
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    saved = {key: os.environ.get(key) for key in env}
    try:
        _wait_for_socket(directory / "native", process, 30.0)
        os.environ.update(env)
        sounddevice = sys.modules.get("sounddevice")
        if sounddevice is not None:  # PortAudio lists devices once: make it look again
            sounddevice._terminate()
            sounddevice._initialize()
        yield Pulse(directory, env)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
