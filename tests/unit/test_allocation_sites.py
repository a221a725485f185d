"""Growing allocation sites are read per distinct traceback, and tracemalloc's own blocks are
never among them."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from wfleak.probes import memory

KEPT: list[Any] = []


def keep(count: int) -> None:
    KEPT.extend([[n] for n in range(count)])  # one small list per element, all from here


@pytest.fixture
def tracing() -> Iterator[None]:
    tracemalloc.start(10)
    try:
        yield
    finally:
        tracemalloc.stop()
        KEPT.clear()


def test_the_site_that_kept_many_small_blocks_grew_by_their_count(tracing: None) -> None:
    first = memory.take_snapshot()
    keep(20_000)
    last = memory.take_snapshot()
    sites = memory.growing_sites(first, last, limit=50)
    line = keep.__code__.co_firstlineno + 1
    (site,) = [
        s
        for s in sites
        if s.frame.filename.endswith("test_allocation_sites.py") and s.frame.lineno == line
    ]
    assert site.count_delta >= 20_000
    assert site.size_delta >= 20_000 * 56
    assert not [s for s in sites if s.frame.filename.endswith("tracemalloc.py")]
