from collections.abc import Callable, Sequence
from typing import Any

def encode_lines(
    frames: Sequence[tuple[float, str, object, int]],
    origin: float,
    secrets: tuple[str, ...],
    limit: int,
    depth: int,
    dumps: Callable[[Any], bytes],
    fallback: Callable[[Any, float], Any],
    /,
) -> list[Any]: ...
def now() -> float: ...
