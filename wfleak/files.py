"""Reading the user's files, with one clear line for every way that can fail."""

from __future__ import annotations

from pathlib import Path

from wfleak.errors import UsageError

MAX_FILE_BYTES = 64 * 1024 * 1024
"""Larger than any configuration, input or report wfleak reads; a bound, so that a mistaken
``/dev/zero`` or a huge file ends in one line instead of exhausting memory."""


def read_text(path: Path, what: str, limit: int = MAX_FILE_BYTES) -> str:
    """The text of ``path``; ``what`` names the expected kind of file for the messages."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise UsageError(f"No such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"Is a directory, not {what}: {path}") from None
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UsageError(f"{path} is larger than {limit // (1024 * 1024)} MiB: not {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"Cannot read {path}: not UTF-8 text ({exc.reason})") from None
