"""Write the example notebooks from the cell sources below, outputs stripped.

The ``.ipynb`` files are generated so that they stay reviewable as plain Python: edit the cells
here, then run ``python notebooks/_build.py`` (``--check`` exits 1 if a notebook differs from
what this script would write). Every notebook runs against the embedded server; the test-suite
executes them in a real kernel (``tests/notebooks/test_notebooks_run.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

Cell = tuple[str, str]  # ("md" | "code", source)


def md(source: str) -> Cell:
    return ("md", source.strip("\n"))


def code(source: str) -> Cell:
    return ("code", source.strip("\n"))


CLEANUP_NOTE = md(
    """
## Clean up

Close the session (its Observables complete) and stop the server. Both are idempotent.
"""
)

# ---------------------------------------------------------------------------------------------
# 01 — quickstart

QUICKSTART: list[Cell] = [
    md(
        """
# rxrealtime quickstart

rxrealtime turns a Realtime API connection into a reactivex `Observable` of typed events.
This notebook runs the **embedded server** inside the kernel (no API key, no network), connects
to it, streams an answer live into one updating output, and composes the two basic text
operators, `text_only` and `accumulate_deltas`.

The kernel's event loop is already running, so everything below uses top-level `await`;
nothing calls `asyncio.run`.
"""
    ),
    code(
        """
from reactivex import operators as rx

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime import sinks
from rxrealtime.scheduling import first
from rxrealtime.server import serve
"""
    ),
    md(
        """
## Start the embedded server

`serve()` builds a server; `start()` binds a free loopback port and returns, leaving the server
running on the kernel's loop between cells. Its deterministic model answers a greeting with
*"Hello! How can I help you today?"* and does arithmetic. A small delay between text deltas
makes the streaming visible.
"""
    ),
    code(
        """
server = serve(realtime_audio=False, text_delta_interval=0.05)
await server.start()
server.base_url
"""
    ),
    md(
        """
## Connect

`connect()` opens the WebSocket and starts one receive task. `session.events` is a **hot**
Observable: every subscriber sees the events from the moment it subscribes. Events that arrive
before anyone listens (like `session.created`) are kept for the first subscriber.
"""
    ),
    code(
        """
session = await rr.connect(base_url=server.base_url)
created = await first(session.events.pipe(ops.of_type(ev.SessionCreated)))
created.session.id, created.session.model
"""
    ),
    md(
        """
## Ask a question

`session.ask()` sends a user message, requests a response and returns its summary once the
response is done: the text (or, with `output="audio"`, the transcript and the audio bytes), the
status, the token usage and the timings. It is an `ops.ResponseSummary`, the same record
`ops.responses()` gives for every response.
"""
    ),
    code(
        """
answer = await session.ask("What is 6 * 7?", output="text")
answer.text, answer.status, answer.usage.total_tokens
"""
    ),
    md(
        """
`async for` over an `ask` gives the words as they stream instead:
"""
    ),
    code(
        """
async for words in session.ask("Good afternoon!"):
    print(words, end="|")
"""
    ),
    md(
        """
## Stream an answer live

`sinks.NotebookDisplay` shows the model's words in **one** output that updates in place (at
most every 0.1 s), with a status line; it reads *finished* when its stream completes. Here its
stream is the session's events up to the next `response.done`. Subscribe **before** asking:
`session.events` is hot, so a late subscriber would miss events.
"""
    ),
    code(
        """
def next_response():
    \"\"\"session.events up to and including the next response.done, then complete.\"\"\"
    return session.events.pipe(
        rx.take_while(lambda e: not isinstance(e, ev.ResponseDone), inclusive=True)
    )


view = sinks.NotebookDisplay()
next_response().subscribe(view)
answer = await session.ask("Hello there!")
"""
    ),
    md(
        """
The sink keeps what it shows as data, and the answer says how long the response took:
"""
    ),
    code(
        """
print(view.state.text)
answer.done_at - answer.created_at
"""
    ),
    md(
        """
## `text_only`: just the words

`ops.text_only()` maps the stream to the text deltas (and audio transcripts) as `str`.
Subscriptions on a session stay active across cells until disposed; `session.ask` works beside
them.

In a kernel, a subscriber's callbacks run in the context of the cell that subscribed, so what
it prints shows up under that cell, even when the events arrive later. Collecting values and
showing them where you ask (or a `NotebookDisplay`) keeps the notebook tidy.
"""
    ),
    code(
        """
words = []
subscription = session.events.pipe(ops.text_only()).subscribe(words.append)
await session.ask("What is 12 times 3?")
subscription.dispose()
words
"""
    ),
    md(
        """
## `accumulate_deltas`: each part with its text so far

Every step carries the part's identity (`item_id`, `content_index`, `kind`), the `delta` and
the `text` so far; the last step has `done=True` and the server's final text.
"""
    ),
    code(
        """
steps = []
subscription = session.events.pipe(ops.accumulate_deltas()).subscribe(steps.append)
await session.ask("Good morning!")
subscription.dispose()
for step in steps:
    print(f"{step.kind:12} done={step.done!s:5} delta={step.delta!r:12} text={step.text!r}")
"""
    ),
    md(
        """
## Composing operators

The operators are plain `Observable -> Observable` functions, so they compose with reactivex's
own. Two routes to the final answer must agree: folding `text_only`'s words with `scan`, and
keeping the `done` step of `accumulate_deltas`.
"""
    ),
    code(
        """
folded, final = [], []
subscriptions = [
    session.events.pipe(ops.text_only(), rx.scan(lambda text, word: text + word, ""))
    .subscribe(folded.append),
    session.events.pipe(
        ops.accumulate_deltas(), rx.filter(lambda step: step.done), rx.map(lambda s: s.text)
    ).subscribe(final.append),
]
await session.ask("What is 7 minus 10?")
for s in subscriptions:
    s.dispose()
assert folded[-1] == final[-1]
print("ANSWER:", final[-1])
"""
    ),
    CLEANUP_NOTE,
    code(
        """
await session.close()
await server.stop()
session.statistics().frames_in, session.close_code
"""
    ),
]

# ---------------------------------------------------------------------------------------------
# 02 — tool calls

TOOL_CALLS: list[Cell] = [
    md(
        """
# Tool calls

The model can call functions you define. `@rr.tool` turns a Python function into a tool (its
name, its docstring as the description, a JSON Schema from its type hints), and
`sinks.run_tools()` declares the tools to the model, runs the calls it makes off the receive
loop, sends the results back and asks the model to go on. rxrealtime assembles each call from
the streamed argument deltas (`ops.tool_calls()`). This notebook uses the embedded server,
whose model calls `get_weather` when asked about the weather and `calculate` for arithmetic.
"""
    ),
    code(
        """
import ast
import json
import operator
from typing import Literal

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime import sinks
from rxrealtime.server import serve
"""
    ),
    code(
        """
server = serve(realtime_audio=False)
await server.start()
session = await rr.connect(base_url=server.base_url)
"""
    ),
    md(
        """
## The tools

Plain Python functions, decorated. The runner checks the model's arguments against the
signature (a bad argument becomes an error the model reads, never an exception here), calls
sync functions in a worker thread and `async def` ones on the loop, and sends the result back
as JSON (a `str` as is).
"""
    ),
    code(
        """
@rr.tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:
    \"\"\"A pretend weather service.

    Args:
        city: The city's name, e.g. "Paris".
        unit: The temperature scale.
    \"\"\"
    sky, celsius = {"Paris": ("sunny", 24), "Oslo": ("snow", -3)}.get(city, ("cloudy", 15))
    return {"city": city, "sky": sky, "celsius": celsius}
"""
    ),
    code(
        """
ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub,
              ast.Mult: operator.mul, ast.Div: operator.truediv}


@rr.tool
def calculate(expression: str) -> str:
    \"\"\"Evaluate an arithmetic expression: + - * / on numbers.\"\"\"
    def value(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
            return ARITHMETIC[type(node.op)](value(node.left), value(node.right))
        raise ValueError(f"not arithmetic: {expression!r}")
    return f"{value(ast.parse(expression, mode='eval').body):g}"


calculate("12 * 7"), get_weather("Paris")
"""
    ),
    md(
        """
What the model is told, derived from the function:
"""
    ),
    code(
        """
print(get_weather.name, "-", get_weather.description)
print(json.dumps(get_weather.parameters, indent=2))
"""
    ),
    md(
        """
## Watch the calls, the conversation, and run the tools

Three subscriptions, all live from now on:

* `ops.tool_calls()` emits one `ToolCall` per completed call (`name`, parsed `arguments`,
  `call_id`);
* `conversation.item.done` events give the conversation, item by item;
* `sinks.run_tools()` declares the tools (one `session.update`), executes each call and, once
  the response that made the calls is done, sends their `function_call_output` items and
  exactly one `response.create`, whose options are yours (here: answer in text).
"""
    ),
    code(
        """
calls, items = [], []
session.events.pipe(ops.tool_calls()).subscribe(calls.append)
session.events.pipe(ops.of_type(ev.ConversationItemDone)).subscribe(lambda e: items.append(e.item))
runner = sinks.run_tools(session, [get_weather, calculate],
                         response={"output_modalities": ["text"]})
"""
    ),
    md(
        """
`session.ask()` sends a question and returns the answer. When the answer needed a tool, it is
the runner's follow-up response; `tool_calls` lists the calls made on the way and `previous`
the response that made them.
"""
    ),
    code(
        """
answer = await session.ask("What's the weather in Paris today?")
print(answer.text)
print([(call.name, call.arguments) for call in answer.tool_calls], len(answer.previous))
"""
    ),
    code(
        """
answer = await session.ask("What is 12 times 7?")
print(answer.text)
"""
    ),
    md(
        """
## The assembled calls
"""
    ),
    code(
        """
for call in calls:
    print(f"{call.call_id}  {call.name}({call.arguments})  raw={call.arguments_json!r}")
runner.statistics()
"""
    ),
    md(
        """
## The conversation that results

User messages, the model's function calls, the outputs the runner sent, and the answers:
"""
    ),
    code(
        """
def describe(item):
    if isinstance(item, ev.FunctionCall):
        return f"{item.name}({item.arguments})"
    if isinstance(item, ev.FunctionCallOutput):
        return item.output
    return " ".join(getattr(part, "text", None) or "" for part in item.content or ())


for item in items:
    print(f"{getattr(item, 'role', None) or item.type:>21}  {describe(item)}")
"""
    ),
    md(
        """
## Several calls in one response

One question can need several calls. They run concurrently; their outputs are sent together
once the response is done, followed by one `response.create`.
"""
    ),
    code(
        """
answer = await session.ask("What's the weather in Paris and in Oslo?")
print([call.arguments["city"] for call in answer.tool_calls], "->", answer.text)
runner.statistics().responses_requested
"""
    ),
    CLEANUP_NOTE,
    code(
        """
await runner.aclose()
await session.close()
await server.stop()
"""
    ),
]

# ---------------------------------------------------------------------------------------------
# 03 — audio

AUDIO: list[Cell] = [
    md(
        """
# Audio: speak to the model, see and hear its answer

Audio on the Realtime API is base64 PCM16 (24 kHz, mono) inside JSON events. `ops.audio_chunks()`
decodes it once into `AudioChunk`s with offsets and durations. Here we send a spoken question,
let the server's voice activity detection (VAD) end the turn, then plot the answer's waveform
and spectrogram, play it inline, and measure latencies with `ops.latency()`.

The embedded server's "voice" is a *tone code*: one short sine burst per character.
`encode_text()` speaks text that way and the server's transcription reads it back exactly, so a
notebook can talk to it without a microphone. The server paces its audio in real time here, so
the latency figures are meaningful.
"""
    ),
    code(
        """
%matplotlib inline
import io
import wave

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Audio, display

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.scheduling import first
from rxrealtime.server import decode_tones, encode_text, serve

RATE = 24_000
"""
    ),
    code(
        """
server = serve(realtime_audio=True)
await server.start()
session = await rr.connect(base_url=server.base_url)
await session.session.update(session={
    "type": "realtime",
    "audio": {"input": {"transcription": {"model": "whisper-1"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 200}}},
})
"""
    ),
    md(
        """
## Subscribe before speaking

Decoded output audio, the user's transcripts, the model's transcript, and one latency record
per response. All four subscriptions stay live until disposed.
"""
    ),
    code(
        """
chunks, heard, said, latencies = [], [], [], []
subscriptions = [
    session.events.pipe(ops.audio_chunks()).subscribe(chunks.append),
    session.events.pipe(ops.transcripts()).subscribe(lambda t: heard.append(t.text)),
    session.events.pipe(ops.text_only(transcripts="only")).subscribe(said.append),
    session.events.pipe(ops.latency()).subscribe(latencies.append),
]
"""
    ),
    md(
        """
## Speak: a generated question, ended by server VAD

We append the question in 100 ms chunks followed by half a second of silence. The VAD emits
`speech_started`, then `speech_stopped` after 200 ms of silence, commits the buffer and starts
a response on its own.
"""
    ),
    code(
        """
question = encode_text("hello there") + bytes(RATE)  # + 0.5 s of silence (PCM16: 2 bytes/sample)
step = RATE // 10 * 2  # 100 ms
done = first(session.events.pipe(ops.of_type(ev.ResponseDone)))  # subscribes now
for start in range(0, len(question), step):
    await session.input_audio_buffer.append(question[start:start + step])
response = await done
print("status:", response.response.status, "| heard:", heard, "| said:", "".join(said))
"""
    ),
    md(
        """
## The answer's waveform and spectrogram

The chunks of one response, joined, are the whole answer. In the spectrogram each character is
a short horizontal bar at its own pitch; the colour bar maps colour to power in dB.
"""
    ),
    code(
        """
answer = b"".join(c.data for c in chunks if c.response_id == response.response.id)
samples = np.frombuffer(answer, dtype="<i2") / 32768
spoken = np.frombuffer(question, dtype="<i2") / 32768
print(f"{len(chunks)} chunks, {len(samples) / RATE:.2f} s of audio")

fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 4), sharex=True)
top.plot(np.arange(len(spoken)) / RATE, spoken, lw=0.5)
top.set_ylabel("question")
bottom.plot(np.arange(len(samples)) / RATE, samples, lw=0.5, color="tab:orange")
bottom.set_ylabel("answer")
bottom.set_xlabel("seconds")
plt.show()
"""
    ),
    code(
        """
fig, ax = plt.subplots(figsize=(10, 3))
with np.errstate(divide="ignore"):  # the silent gaps have zero power: -inf dB is fine
    *_, image = ax.specgram(samples, Fs=RATE, NFFT=1024, noverlap=768, cmap="magma")
ax.set_ylim(0, 3000)
ax.set_xlabel("seconds")
ax.set_ylabel("Hz")
fig.colorbar(image, ax=ax, label="power (dB)")
plt.show()
"""
    ),
    md(
        """
## Listen

`IPython.display.Audio` plays WAV bytes; the standard library's `wave` module wraps the PCM.
"""
    ),
    code(
        """
def wav_bytes(pcm: bytes, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


display(Audio(wav_bytes(answer)))
"""
    ),
    md(
        """
The tone code reads back, so we can check that the audio says what the transcript says:
"""
    ),
    code(
        """
decode_tones(answer), "".join(said)
"""
    ),
    md(
        """
## A second turn with a manual commit

Without turn detection the client decides when the user is done: `commit` the buffer, then ask
for a response (`session.ask(None)` requests one and returns its summary).
"""
    ),
    code(
        """
await session.session.update(
    session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
)
await session.input_audio_buffer.append(encode_text("what is 6 times 7"))
await session.input_audio_buffer.commit()
answer = await session.ask(None, output="audio")  # no text to add: just the response
print("heard:", heard[-1], "| said:", answer.transcript)
"""
    ),
    md(
        """
## Latency

`ops.latency()` emits one record per response: from the end of the user's speech (as the VAD
saw it) to the first audio delta, from `response.created` to the first delta, and to
`response.done`. The manual turn has no VAD, hence no speech-to-audio figure.

The embedded model answers at once, so the first figures are the loop's own overhead; the
voice is paced in real time, so "done" is about as long as the answer's audio. Against the live
service the same pipeline measures the model's real latency.
"""
    ),
    code(
        """
def ms(value):
    return "-" if value is None else f"{value:7.1f} ms"


print(f"{'response':28} {'speech→audio':>12} {'first delta':>12} {'done':>12}")
for lat in latencies:
    print(f"{lat.response_id:28} {ms(lat.speech_to_first_audio_ms):>12} "
          f"{ms(lat.created_to_first_delta_ms):>12} {ms(lat.created_to_done_ms):>12}")
"""
    ),
    CLEANUP_NOTE,
    code(
        """
for s in subscriptions:
    s.dispose()
await session.close()
await server.stop()
"""
    ),
]

# ---------------------------------------------------------------------------------------------
# 04 — replay and analysis

REPLAY: list[Cell] = [
    md(
        """
# Record, replay, analyse

`sinks.Recorder` writes a session to JSON Lines, one timestamped record per frame, flushed line
by line. `rxrealtime.replay` turns the file back into the same typed Observable a live session
gives, so every operator works on recordings. Here we record a short conversation (text, audio
and tool calls), replay it, tabulate the events with pandas, plot a timeline per response and
compute the usage and cost of each response.
"""
    ),
    code(
        """
%matplotlib inline
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from reactivex import operators as rx

import rxrealtime as rr
from rxrealtime import operators as ops
from rxrealtime import sinks
from rxrealtime.scheduling import last, to_list
from rxrealtime.server import serve
"""
    ),
    md(
        """
## Record a session

Given to `connect(recorder=...)`, the recorder sits between the session and its connection and
writes every frame both ways, what the tool runner and `session.ask` send included.
"""
    ),
    code(
        """
workdir = tempfile.TemporaryDirectory()  # the recording lives here; removed at the end
path = Path(workdir.name) / "session.jsonl"
server = serve(realtime_audio=False)
await server.start()
recorder = sinks.Recorder(path, meta={"model": "gpt-realtime", "server": "embedded"})
session = await rr.connect(base_url=server.base_url, recorder=recorder)


@rr.tool
def get_weather(city: str) -> dict:
    \"\"\"Current weather in a city.\"\"\"
    return {"city": city, "sky": "clear"}


runner = sinks.run_tools(session, [get_weather])
"""
    ),
    md(
        """
A greeting answered with audio, arithmetic answered in text, and a question that needs the tool
(two responses: the call, then the answer):
"""
    ),
    code(
        """
await session.ask("Hello!", output="audio")
await session.ask("What is 6 times 7?", output="text")
await session.ask("What's the weather in Oslo?", output="audio")
await runner.aclose()
await session.close()  # the stream ends: the recorder writes its end record
recorder.records_written, recorder.closed
"""
    ),
    md(
        """
The file: a header line, then one record per frame, `"in"` or `"out"`.
"""
    ),
    code(
        """
with open(path) as file:
    lines = file.readlines()
print(len(lines), "lines")
for line in lines[:3]:
    print(line[:150].rstrip())
"""
    ),
    md(
        """
## Replay

`rr.replay(path)` is a cold Observable of server events (as fast as possible by default; pass
`speed=1.0` for the original timing). `rr.replay_records()` gives every record with its
direction and time.
"""
    ),
    code(
        """
events = await to_list(rr.replay(path))
records = await to_list(rr.replay_records(path))
len(events), len(records), type(events[0]).__name__
"""
    ),
    md(
        """
## A table of events

`sinks.to_dataframe()` turns a recording (both directions, with the recorded times) or any
event Observable (a replay, a bounded `session.events`) into a pandas DataFrame, one row per
frame: `t`, `direction`, `type`, the ids (`event_id`, `response_id`, `item_id`, `call_id`), the
words (`text`: deltas, transcripts, arguments, item texts; never audio) and the `event` itself.
On a live session, `sinks.DataFrameCollector()` subscribed to `session.events` builds the same
table as the events arrive.
"""
    ),
    code(
        """
table = await sinks.to_dataframe(path)
labels = {rid: f"r{n}" for n, rid in enumerate(table.response_id.dropna().unique(), 1)}
table["response"] = table.response_id.map(labels)  # short names: r1, r2, ...
print(labels)
table.drop(columns="event").head(12)
"""
    ),
    md(
        """
What went out: our messages and requests, and what the tool runner sent on its own, the
call's output (with its `call_id`) and the `response.create` that asked for the answer.
"""
    ),
    code(
        """
sent = table[table.direction == "out"]
sent[["t", "type", "call_id", "text"]]
"""
    ),
    code(
        """
table[table.response.notna()].pivot_table(
    index="type", columns="response", values="t", aggfunc="size", fill_value=0
)
"""
    ),
    md(
        """
## Timeline of event types per response

One row per event type, one colour per response; grey marks events that belong to no response
(session, conversation and input events, and what we sent).
"""
    ),
    code(
        """
order = list(dict.fromkeys(table.type))
fig, ax = plt.subplots(figsize=(10, 0.28 * len(order) + 1))
loose = table[table.response.isna()]
ax.scatter(loose.t * 1000, loose.type.map(order.index), c="lightgrey", s=18, label="(none)")
for response, group in table.groupby("response"):
    ax.scatter(group.t * 1000, group.type.map(order.index), s=18, label=response)
ax.set_yticks(range(len(order)), order, fontsize=8)
ax.invert_yaxis()
ax.set_xlabel("ms since the recording started")
ax.legend(fontsize=7, loc="lower right")
plt.show()
"""
    ),
    md(
        """
## Usage and cost per response

`ops.usage(prices)` keeps running token totals and their cost under a price table (per million
tokens). Applied to each response's window (`ops.per_response()`), it gives one record per
response. The prices below are illustrative: look up your model's.
"""
    ),
    code(
        """
PRICES = ops.Prices(input_text=4.0, cached_input_text=0.4, output_text=16.0,
                    input_audio=32.0, cached_input_audio=0.4, output_audio=64.0)

per_response = rr.replay(path).pipe(
    ops.per_response(),
    rx.flat_map(lambda window: window.pipe(ops.usage(PRICES), rx.map(lambda u: (window.key, u)))),
)
costs = pd.DataFrame(
    {"response": labels[key], "input": u.input_tokens, "output_text": u.output_text,
     "output_audio": u.output_audio, "total": u.total_tokens, "cost_usd": u.cost}
    for key, u in await to_list(per_response)
).set_index("response")
costs
"""
    ),
    code(
        """
overall = await last(rr.replay(path).pipe(ops.usage(PRICES)))  # running totals
assert abs(overall.cost - costs.cost_usd.sum()) < 1e-12
ax = (costs.cost_usd * 1e6).plot.bar(figsize=(8, 3), rot=20, color="tab:green")
ax.set_ylabel("micro-dollars")
ax.set_title(f"total: {overall.total_tokens} tokens, ${overall.cost:.6f}")
plt.show()
"""
    ),
    CLEANUP_NOTE,
    code(
        """
await session.close()
await server.stop()
workdir.cleanup()  # the recording and its directory
path.exists()
"""
    ),
]

NOTEBOOKS: dict[str, list[Cell]] = {
    "01-quickstart.ipynb": QUICKSTART,
    "02-tool-calls.ipynb": TOOL_CALLS,
    "03-audio.ipynb": AUDIO,
    "04-replay-and-analysis.ipynb": REPLAY,
}


def build(name: str, cells: list[Cell]) -> nbformat.NotebookNode:
    """The notebook ``name`` made of ``cells``: outputs empty, stable cell ids."""
    notebook = nbformat.v4.new_notebook()
    stem = name.removesuffix(".ipynb")
    for index, (kind, source) in enumerate(cells):
        make = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        notebook.cells.append(make(source, id=f"{stem}-{index:02d}"))
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.validate(notebook)
    return notebook


def render(notebook: nbformat.NotebookNode) -> str:
    return nbformat.writes(notebook) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, cells in NOTEBOOKS.items():
        path = HERE / name
        text = render(build(name, cells))
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run python notebooks/_build.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
