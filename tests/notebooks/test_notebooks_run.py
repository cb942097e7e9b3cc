"""The notebooks in notebooks/ run for real: each is executed in a real Jupyter kernel (nbclient,
ipykernel, the venv's own interpreter) against the embedded server it starts itself.

Each notebook runs once per module (in its own temporary working directory); the tests then
read its outputs: no cell may fail or write to stderr (a warning, or a subscriber error the
session logged, would show there), the plots must exist, and the words must be what the
embedded model says.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import importlib.util
import io
import json
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rxrealtime.server import DefaultModel, ResponseRequest

# Older jupyter_core versions warn (DeprecationWarning) at import unless JUPYTER_PLATFORM_DIRS
# is set; that is about Jupyter's own config paths, which these tests do not use.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*platformdirs.*", category=DeprecationWarning)
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    kernelspec = pytest.importorskip("jupyter_client.kernelspec")
    manager = pytest.importorskip("jupyter_client.manager")
pytest.importorskip("ipykernel")
# Importing the font manager builds matplotlib's font cache once, here, where its log line is
# harmless: a kernel building it would print to the cell's stderr, which the tests forbid.
pytest.importorskip("matplotlib.font_manager")
pytest.importorskip("numpy")
pytest.importorskip("pandas")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ["01-quickstart", "02-tool-calls", "03-audio", "04-replay-and-analysis"]
KERNEL = "rxrealtime-test-python"
CELL_TIMEOUT = 60

Notebook = Any  # nbformat.NotebookNode

WORKDIRS: dict[str, Path] = {}
"""The working directory each notebook ran in (filled by the ``run`` fixture)."""


def reply_to(words: str) -> str:
    """What the embedded server's default model answers to a user message saying ``words``."""
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": words}]}
    [message] = asyncio.run(DefaultModel().respond(ResponseRequest(items=(item,))))
    text: str = message.text
    return text


# ---------------------------------------------------------------------------------------------
# running notebooks


def kernel_manager(workdir: Path) -> Any:
    """A kernel manager for this interpreter (a kernel spec written to ``workdir``, so no
    user-level ``python3`` spec can pick another Python), on IPC sockets inside ``workdir``."""
    spec_dir = workdir / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "rxrealtime tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    specs = kernelspec.KernelSpecManager(kernel_dirs=[str(workdir / "kernels")])
    return manager.KernelManager(
        kernel_name=KERNEL,
        kernel_spec_manager=specs,
        transport="ipc",
        connection_file=str(workdir / "kernel.json"),
    )


def kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    # tests/conftest.py turns on asyncio debug mode for the test process; in the kernel it
    # makes ipykernel's own shutdown fail (it schedules on its loop from the control thread).
    env.pop("PYTHONASYNCIODEBUG", None)
    env.pop("OPENAI_API_KEY", None)  # the notebooks talk to the embedded server only
    env.pop("OPENAI_BASE_URL", None)
    return env


def execute(name: str, workdir: Path) -> tuple[Notebook, BaseException | None]:
    """Run the notebook in a fresh kernel with ``workdir`` as its working directory."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    km = kernel_manager(workdir)
    client = nbclient.NotebookClient(
        notebook, km=km, timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(workdir)}}
    )
    try:
        client.execute(env=kernel_env())
    except nbclient.exceptions.CellExecutionError as error:
        return notebook, error
    finally:
        # nbclient leaves a kernel it was given running: stop it and close its sockets.
        if client.kc is not None:
            client.kc.stop_channels()
        if km.has_kernel:
            km.shutdown_kernel()
    return notebook, None


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Notebook]:
    """``run(name)``: the executed notebook (each runs once; a failing cell fails its tests)."""
    done: dict[str, tuple[Notebook, BaseException | None]] = {}

    def get(name: str) -> Notebook:
        if name not in done:
            WORKDIRS[name] = tmp_path_factory.mktemp(name)
            done[name] = execute(name, WORKDIRS[name])
        notebook, error = done[name]
        if error is not None:
            pytest.fail(f"{name}.ipynb failed:\n{error}", pytrace=False)
        return notebook

    return get


# ---------------------------------------------------------------------------------------------
# reading outputs


def outputs(notebook: Notebook) -> Iterator[dict[str, Any]]:
    for cell in notebook.cells:
        if cell.cell_type == "code":
            yield from cell.outputs


def text_of(notebook: Notebook) -> str:
    """Everything the notebook printed or showed as text, in order."""
    parts = []
    for output in outputs(notebook):
        if output["output_type"] == "stream" and output["name"] == "stdout":
            parts.append(output["text"])
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "\n".join(parts)


def result_of(notebook: Notebook, source_prefix: str) -> str:
    """The value shown by the code cell whose source starts with ``source_prefix``."""
    [cell] = [c for c in notebook.cells if c.source.startswith(source_prefix)]
    [result] = [o for o in cell.outputs if o["output_type"] == "execute_result"]
    text: str = result["data"]["text/plain"]
    return text


def count(notebook: Notebook, mime: str) -> int:
    return sum(1 for output in outputs(notebook) if mime in output.get("data", {}))


# ---------------------------------------------------------------------------------------------
# every notebook


@pytest.mark.parametrize("name", NAMES)
def test_runs_without_errors_or_stderr(run: Callable[[str], Notebook], name: str) -> None:
    notebook = run(name)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells and all(cell.execution_count for cell in code_cells)
    stderr = [o["text"] for o in outputs(notebook) if o.get("name") == "stderr"]
    assert stderr == []
    assert not [o for o in outputs(notebook) if o["output_type"] == "error"]


@pytest.mark.parametrize("name", NAMES)
def test_is_stored_with_outputs_stripped(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert (cell.execution_count, cell.outputs) == (None, [])
    source = "\n".join(cell.source for cell in notebook.cells)
    assert "asyncio.run(" not in source  # the kernel's loop is already running
    assert "await server.stop()" in notebook.cells[-1].source  # cleanup is the last cell


def test_notebooks_match_their_generator() -> None:
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "_build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert sorted(build.NOTEBOOKS) == [f"{name}.ipynb" for name in NAMES]
    assert build.main(["--check"]) == 0, "run: python notebooks/_build.py"


# ---------------------------------------------------------------------------------------------
# what each notebook must show


def test_quickstart_streams_what_the_model_says(run: Callable[[str], Notebook]) -> None:
    text = text_of(run("01-quickstart"))
    greeting = reply_to("Hello there!")
    assert greeting == "Hello! How can I help you today?"
    assert greeting in text  # what the display sink collected
    deltas = ast.literal_eval(result_of(run("01-quickstart"), "words = []"))  # text_only's
    assert len(deltas) > 1 and "".join(deltas) == reply_to("What is 12 times 3?")
    assert f"done=True  delta=''           text={reply_to('Good morning!')!r}" in text
    assert f"ANSWER: {reply_to('What is 7 minus 10?')}" in text
    assert re.search(r"^\(\d+, 1000\)$", text, re.M)  # frames received; closed normally


def test_quickstart_display_is_updated_in_place(run: Callable[[str], Notebook]) -> None:
    """The NotebookDisplay output (one display_data, updated through its display id) ends up
    showing the whole answer and the end of its stream."""
    shown = [
        o["data"]["text/plain"]
        for o in outputs(run("01-quickstart"))
        if o["output_type"] == "display_data"
    ]
    assert len(shown) == 1
    assert shown[0].startswith(reply_to("Hello there!"))
    assert shown[0].rstrip().endswith("finished]")


def test_tool_calls_results_reach_the_conversation(run: Callable[[str], Notebook]) -> None:
    text = text_of(run("02-tool-calls"))
    weather = '{"city": "Paris", "sky": "sunny", "celsius": 24}'
    assert "get_weather({'city': 'Paris'})" in text  # the assembled call
    assert "calculate({'expression': '12 * 7'})" in text
    assert f"function_call_output  {weather}" in text  # what the runner sent back
    assert "function_call_output  84" in text
    assert f"assistant  Here is the result from get_weather: {weather}" in text
    assert "assistant  Here is the result from calculate: 84" in text
    assert "calls_received=2, calls_answered=2, tool_errors=0, responses_requested=2" in text


def test_audio_plots_player_and_transcripts(run: Callable[[str], Notebook]) -> None:
    notebook = run("03-audio")
    text = text_of(notebook)
    assert count(notebook, "image/png") >= 2  # waveform and spectrogram
    assert any("<audio" in o.get("data", {}).get("text/html", "") for o in outputs(notebook))
    greeting = reply_to("hello there")
    assert f"heard: ['hello there'] | said: {greeting}" in text  # VAD turn
    assert repr((greeting.lower(), greeting)) in text  # the tone code reads back
    assert f"heard: what is 6 times 7 | said: {reply_to('what is 6 times 7')}" in text
    assert " ms " in text and "speech→audio" in text  # the latency table


def test_replay_analysis_tables_and_plots(run: Callable[[str], Notebook]) -> None:
    notebook = run("04-replay-and-analysis")
    text = text_of(notebook)
    assert count(notebook, "image/png") >= 2  # timeline and cost chart
    assert count(notebook, "text/html") >= 3  # pandas tables
    assert "'r4'" in text and "'r5'" not in text  # four responses recorded and replayed
    costs = re.findall(r"^(r\d+)(?:\s+\d+){4}\s+([\d.e-]+)$", text, re.M)
    assert [label for label, _ in costs] == ["r1", "r2", "r3", "r4"]
    assert all(float(cost) > 0 for _, cost in costs)


@pytest.mark.parametrize("name", NAMES)
def test_leaves_no_files_behind(run: Callable[[str], Notebook], name: str) -> None:
    """A notebook writes nothing into the directory it runs in (04's recording goes to a
    temporary directory it removes); only the test's own kernel spec is there."""
    run(name)
    assert sorted(path.name for path in WORKDIRS[name].iterdir()) == ["kernels"]


def colour_bar_columns(png: bytes, cmap: str) -> int:
    """How many pixel columns of the right half of ``png`` are a colour bar of ``cmap``: at
    least a third of the image's height in the colour map's colours, spanning most of the map,
    from its bright end at the top to its dark end at the bottom."""
    import matplotlib
    import numpy as np
    from matplotlib import image

    pixels = image.imread(io.BytesIO(png))[..., :3]
    lut = matplotlib.colormaps[cmap](np.linspace(0, 1, 256))[:, :3]
    height, width, _ = pixels.shape
    found = 0
    for x in range(width // 2, width):
        distance = np.linalg.norm(pixels[:, x, None, :] - lut[None, :, :], axis=2)
        matched = distance.argmin(axis=1)[distance.min(axis=1) < 0.03]  # top to bottom
        if len(matched) < height // 3 or matched.max() - matched.min() < 200:
            continue
        if (np.diff(matched) <= 0).mean() > 0.98:
            found += 1
    return found


def test_spectrogram_has_a_colour_bar(run: Callable[[str], Notebook]) -> None:
    [cell] = [c for c in run("03-audio").cells if "specgram(" in c.source]
    [shown] = [o for o in cell.outputs if "image/png" in o.get("data", {})]
    assert shown["data"]["text/plain"].endswith("with 2 Axes>")  # the plot and its colour bar
    assert colour_bar_columns(base64.b64decode(shown["data"]["image/png"]), "magma") > 0


def test_recording_holds_the_tool_runners_sends(run: Callable[[str], Notebook]) -> None:
    """Recorded with ``connect(recorder=...)``, the file has what the runner sent on its own:
    the call's output (with the call's id) and the ``response.create`` after it; the table
    comes from ``sinks.to_dataframe`` and the recording's directory is gone at the end."""
    notebook = run("04-replay-and-analysis")
    sent = result_of(notebook, "sent = table[")
    lines = sent.splitlines()
    [answer] = [n for n, line in enumerate(lines) if re.search(r"item\.create\s+call_\w", line)]
    assert "response.create" in lines[answer + 1]  # the runner's request follows its output
    assert '{"city": "Oslo", "sky": "clear"}' in sent  # the output itself (the text column)
    assert sent.count("response.create") == 4  # three questions, then the runner's request
    source = "\n".join(cell.source for cell in notebook.cells)
    assert "sinks.to_dataframe(path)" in source and "pd.DataFrame(rows)" not in source
    assert result_of(notebook, "await session.close()\nawait server.stop()\nworkdir") == "False"
