"""Tests set aside until the behaviour they pin is reconciled, each with the reason.

INCONCLUSIVE, the settle phase and the log heartbeat landed beside the service driver, the
signal handling and the watcher; a run of the whole suite on a clean checkout showed these
tests failing. A test listed here is skipped, never hidden: the
summary names it and its reason, and removing its line brings it back.
"""

from __future__ import annotations

import pytest

QUARANTINED: dict[str, str] = {}


def _reason(nodeid: str) -> str | None:
    return QUARANTINED.get(nodeid)


def apply(items: list[pytest.Item]) -> None:
    for item in items:
        reason = _reason(item.nodeid)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=f"quarantined: {reason}"))
