"""``python -m rxrealtime``: the command line (see :mod:`rxrealtime.cli`)."""

from rxrealtime.cli import main

raise SystemExit(main())
