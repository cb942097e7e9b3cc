"""Build shim: the metadata lives in setup.cfg; this adds the optional C helper.

``rxrealtime._native`` (see ``rxrealtime/_construct.py``) speeds up building events. It is
optional: where it cannot be compiled (no C compiler), the install goes on and rxrealtime uses
its pure-Python equivalent, with the same results.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("rxrealtime._native", ["rxrealtime/_native.c"], optional=True),
    ]
)
