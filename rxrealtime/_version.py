"""The package's version: its one home (setup.cfg, the facade and the User-Agent read it)."""

__version__ = "0.1.0.dev0"
