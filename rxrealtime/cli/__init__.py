"""The ``rxrealtime`` command line (the console script and ``python -m rxrealtime``).

One module per command, over the library's public layers:

* :mod:`~rxrealtime.cli.main`: argument parsing, dispatch, exit statuses (``--help``);
* :mod:`~rxrealtime.cli.demo`: ``demo``, the showcase;
* :mod:`~rxrealtime.cli.chat`: ``chat``, a text chat in the terminal;
* :mod:`~rxrealtime.cli.serve`: ``serve``, the embedded server;
* :mod:`~rxrealtime.cli.record`: ``record`` and ``--record``, a session recorded to JSONL;
* :mod:`~rxrealtime.cli.replay`: ``replay``, what a recording says;
* :mod:`~rxrealtime.cli.common`: what the commands share (endpoint, session, turns, printing);
* :mod:`~rxrealtime.cli.tools`: the two local function tools ``demo`` and ``chat`` offer.
"""

from rxrealtime.cli.main import main

__all__ = ["main"]
