from collections.abc import Callable
from typing import Any

class ReceiveTap:
    raw: list[tuple[float, str, Any, int]]
    limit: int
    frames: int
    ended: bool
    wire_records: int
    def append(self, ts: float, direction: str, frame: Any, flags: int, /) -> None: ...
    def take_wire(self) -> bytes: ...
    def __init__(
        self,
        kinds: frozenset[str],
        admit: Callable[[str, str | None, object], int],
        wake: Callable[[], None],
        failed: Callable[[BaseException], None],
        clock: Callable[[], float],
        *,
        invalid: type,
        wire: bool = False,
    ) -> None: ...
    def __call__(self, frame: Any, event: Any, /) -> None: ...
