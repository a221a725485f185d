"""Reading the user's files, with one clear line for every way that can fail."""

from __future__ import annotations

from pathlib import Path

from wfleak.errors import UsageError


def read_text(path: Path, what: str) -> str:
    """The text of ``path``; ``what`` names the expected kind of file for the messages."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"No such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"Is a directory, not {what}: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"Cannot read {path}: {exc}") from None
