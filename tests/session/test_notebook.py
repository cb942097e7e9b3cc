"""A real Jupyter kernel: the kernel's loop is already running, and rxrealtime must just work."""

from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

CELLS = [
    # nothing may call asyncio.run or block inside the kernel's running loop
    """
import asyncio
def _forbidden(*args, **kwargs):
    raise RuntimeError("asyncio.run was called inside the kernel")
asyncio.run = _forbidden
from reactivex import operators as ops
import rxrealtime.session as rs
from rxrealtime import events as ev
from rxrealtime.scheduling import first, to_list
from rxrealtime.server import serve
""",
    """
server_cm = serve(port=0, realtime_audio=False)
server = await server_cm.__aenter__()
session = await rs.connect(base_url=server.base_url)
words = []
session.events.pipe(
    ops.filter(lambda e: isinstance(e, ev.ResponseOutputTextDelta)), ops.map(lambda e: e.delta)
).subscribe(words.append)
""",
    """
await session.conversation.item.create(
    item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}
)
await session.response.create(response={"output_modalities": ["text"]})
done = await first(session.events.pipe(ops.filter(lambda e: isinstance(e, ev.ResponseDone))))
print("TEXT:", "".join(words))
""",
    """
# a background subscription keeps running between cells; the delay runs on the kernel's loop
import threading
delayed = []
session.events.pipe(ops.delay(0.01)).subscribe(lambda e: delayed.append(threading.get_ident()))
await session.conversation.item.create(
    item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "2 + 2"}]}
)
await session.response.create(response={"output_modalities": ["text"]})
await first(session.events.pipe(ops.filter(lambda e: isinstance(e, ev.ResponseDone))))
await asyncio.sleep(0.05)
print("SAME_THREAD:", bool(delayed) and set(delayed) == {threading.get_ident()})
""",
    """
# a subscriber's output belongs to the cell that subscribed, not to the cell that connected
session.events.pipe(ops.filter(lambda e: isinstance(e, ev.ResponseDone))).subscribe(
    lambda e: print("PRINTED IN THE SUBSCRIBING CELL:", e.response.status)
)
await session.conversation.item.create(
    item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
)
await session.response.create(response={"output_modalities": ["text"]})
await first(session.events.pipe(ops.filter(lambda e: isinstance(e, ev.ResponseDone))))
await asyncio.sleep(0.05)
""",
    """
await session.close()
await server_cm.__aexit__(None, None, None)
print("CLOSED:", session.close_code)
""",
]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.timeout(90)
def test_a_session_inside_a_real_kernel() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    client = nbclient.NotebookClient(
        notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": "."}}
    )
    client.execute()
    text = "".join(
        output.get("text", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )
    assert "TEXT: Hello! How can I help you today?" in text
    assert "SAME_THREAD: True" in text
    assert "CLOSED: 1000" in text
    subscribing_cell = "".join(o.get("text", "") for o in notebook.cells[4].get("outputs", []))
    assert "PRINTED IN THE SUBSCRIBING CELL: completed" in subscribing_cell
