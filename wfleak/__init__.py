"""wfleak: find, explain and guard against memory leaks in LlamaIndex workflows."""

__version__ = "0.1.0"
