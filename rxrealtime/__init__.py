"""rxrealtime: the OpenAI Realtime API as a reactivex Observable of typed, immutable events.

The layers and the policies the code follows are described in the project's DESIGN notes;
the public surface is listed in ``__all__`` and checked by the test-suite.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
