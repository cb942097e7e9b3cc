"""The layer table in ``docs/design.md`` holds for the code: imports point up the table only.

Every module of the package is placed in exactly one layer (a new module that fits none fails
:func:`test_every_module_has_a_layer` until it is placed). A module may import modules of its own
layer and of the layers above it, never of a layer below. Two rules on top:

* no module imports another package's ``_private`` module (a package's private modules are for
  that package alone; what others need is exported by its facade);
* the embedded server is an independent oracle: of the client side it may use only the pure
  helpers (the audio core, secret masking), never events, operators or the session.
"""

from __future__ import annotations

import ast
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import rxrealtime

PACKAGE_DIR = Path(rxrealtime.__file__).parent

# Top to bottom: data flows down this list, imports point up it. Each entry: the layer's name and
# the module prefixes it holds (a prefix matches the module and its submodules). This mirrors the
# table in docs/design.md.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "compat",
        (
            "rxrealtime._compat",
            "rxrealtime._construct",
            "rxrealtime._native",
            "rxrealtime._native_records",
            "rxrealtime._native_tap",
            "rxrealtime._version",
        ),
    ),
    ("masking", ("rxrealtime.masking",)),
    ("errors", ("rxrealtime.errors",)),
    ("audio core", ("rxrealtime.audio",)),
    ("events", ("rxrealtime.events", "rxrealtime.validation")),
    ("operators", ("rxrealtime.operators",)),
    ("scheduling", ("rxrealtime.scheduling",)),
    (
        "transport",
        (
            "rxrealtime.endpoint",
            "rxrealtime.transport",
            "rxrealtime._delivery",
            "rxrealtime._messages",
        ),
    ),
    ("recording", ("rxrealtime.recording",)),
    ("session", ("rxrealtime.session", "rxrealtime.reconnect")),
    ("sources", ("rxrealtime.replay", "rxrealtime.sources")),
    ("sinks", ("rxrealtime.sinks", "rxrealtime.tools")),
    ("audio devices", ("rxrealtime.audio.devices",)),
    ("server", ("rxrealtime.server",)),
    ("cli", ("rxrealtime.cli", "rxrealtime.__main__")),
    ("package facade", ("rxrealtime",)),
]

# What the embedded server may use of the rest of the package (pure helpers only).
SERVER_MAY_USE = ("rxrealtime.masking", "rxrealtime.audio", "rxrealtime.server")
SERVER_MAY_NOT_USE = ("rxrealtime.audio.devices",)


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> int | None:
    """The index of the most specific layer holding ``module`` (longest prefix wins)."""
    best: tuple[int, int] | None = None
    for index, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if _matches(module, prefix) and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


def all_modules() -> list[str]:
    names = ["rxrealtime"]
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="rxrealtime."):
        names.append(info.name)
    return sorted(names)


def _source_path(module: str) -> Path:
    relative = Path(*module.split(".")[1:])
    package_init = PACKAGE_DIR / relative / "__init__.py"
    return package_init if package_init.exists() else (PACKAGE_DIR / relative).with_suffix(".py")


def imports_of(module: str) -> Iterator[tuple[int, str]]:
    """Every ``rxrealtime`` module named by an import in ``module`` (with its line number); a
    compiled extension (C source beside it) imports none."""
    path = _source_path(module)
    if not path.exists() and path.with_suffix(".c").exists():
        return
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("rxrealtime"):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("rxrealtime"):
                continue
            # ``from pkg import submodule`` names that submodule; any other name, pkg itself.
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                yield node.lineno, candidate if candidate in ALL_MODULES else target


ALL_MODULES = set(all_modules())


def _is_private_of_other_package(importer: str, target: str) -> bool:
    parts = target.split(".")
    for depth, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            owner = ".".join(parts[:depth])  # the package that owns the private module
            return not _matches(importer, owner)
    return False


def test_every_module_has_a_layer() -> None:
    unplaced = [name for name in ALL_MODULES if layer_of(name) is None]
    assert not unplaced, f"place these modules in LAYERS (and docs/design.md): {unplaced}"


@pytest.mark.parametrize("module", sorted(ALL_MODULES))
def test_imports_point_up_the_layer_table(module: str) -> None:
    own = layer_of(module)
    assert own is not None
    wrong = []
    for line, target in imports_of(module):
        target_layer = layer_of(target)
        if target_layer is not None and target_layer > own:
            wrong.append(f"line {line}: {target} ({LAYERS[target_layer][0]})")
    assert not wrong, f"{module} ({LAYERS[own][0]}) imports a layer below it: {wrong}"


@pytest.mark.parametrize("module", sorted(ALL_MODULES))
def test_no_module_imports_another_packages_private_module(module: str) -> None:
    wrong = [
        f"line {line}: {target}"
        for line, target in imports_of(module)
        if _is_private_of_other_package(module, target)
    ]
    assert not wrong, f"{module} imports private modules of other packages: {wrong}"


@pytest.mark.parametrize(
    "module", sorted(m for m in ALL_MODULES if _matches(m, "rxrealtime.server"))
)
def test_the_server_uses_only_pure_client_helpers(module: str) -> None:
    wrong = [
        f"line {line}: {target}"
        for line, target in imports_of(module)
        if not any(_matches(target, allowed) for allowed in SERVER_MAY_USE)
        or any(_matches(target, banned) for banned in SERVER_MAY_NOT_USE)
    ]
    assert not wrong, f"the embedded server must stay an independent oracle: {wrong}"


def test_the_checker_sees_a_violation() -> None:
    """The checks above can fail: a made-up upward import and a private reach are caught."""
    assert layer_of("rxrealtime.events.codec") < layer_of("rxrealtime.session")  # type: ignore[operator]
    assert _is_private_of_other_package(
        "rxrealtime.sinks.wav", "rxrealtime.operators._audio_format"
    )
    assert not _is_private_of_other_package(
        "rxrealtime.operators", "rxrealtime.operators._text_only"
    )
    assert not _is_private_of_other_package(
        "rxrealtime.operators._barge_in", "rxrealtime.operators._core"
    )
