"""Build shim: the metadata lives in setup.cfg; this adds the optional C helper.

``rxrealtime._native`` (see ``rxrealtime/_construct.py`` and ``rxrealtime/events/_flat.py``)
speeds up decoding events; ``rxrealtime._native_records`` and ``rxrealtime._native_tap`` (see
``rxrealtime/recording/_frames.py`` and ``rxrealtime/sinks/_redis_tap.py``) publishing. Each is
optional: where it cannot be compiled (no C compiler), the install goes on and rxrealtime uses
its pure-Python equivalent, with the same results.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "rxrealtime._native",
            ["rxrealtime/_native.c", "rxrealtime/_flat.c"],
            depends=["rxrealtime/_native.h"],
            optional=True,
        ),
        Extension(
            "rxrealtime._native_records",
            ["rxrealtime/_native_records.c"],
            depends=["rxrealtime/_micro_clock.h"],
            optional=True,
        ),
        Extension(
            "rxrealtime._native_tap",
            ["rxrealtime/_native_tap.c"],
            depends=["rxrealtime/_micro_clock.h"],
            optional=True,
        ),
    ]
)
