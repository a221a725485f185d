"""The allocators' own counts stand in for tracemalloc: they see every byte a run keeps."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

import pytest

from wfleak.probes import allocator

pytestmark = pytest.mark.skipif(not allocator.supported(), reason="needs glibc and pymalloc stats")

PROBE = """
import json
from wfleak.probes import allocator
before = allocator.in_use_bytes()
small = [str(k) * 10 for k in range(1000)]
large = [bytes(1000 + k) for k in range(100)]
during = allocator.in_use_bytes()
del small, large
after = allocator.in_use_bytes()
print(json.dumps({"supported": allocator.supported(), "grew": during - before,
                  "fell": during - after}))
"""
# 1000 strings of 10-40 characters (pymalloc) and 100 bytes objects of about 1 KiB (malloc).
PAYLOAD = sum(len(str(k) * 10) for k in range(1000)) + sum(1000 + k for k in range(100))


@pytest.mark.parametrize("allocator_name", ["pymalloc", "malloc"])
def test_both_allocators_count_what_is_kept_and_freed(allocator_name: str) -> None:
    env = {**os.environ, "PYTHONMALLOC": allocator_name, **allocator.worker_environment()}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    assert result["supported"] is True
    # Object and chunk headers come on top of the payload: under 100 bytes an object here.
    assert PAYLOAD < result["grew"] < PAYLOAD + 1100 * 100
    assert result["fell"] == pytest.approx(result["grew"], abs=2048)


def test_a_kept_object_is_counted_in_this_process() -> None:
    gc.collect()
    before = allocator.in_use_bytes()
    kept = [bytes(4096) for _ in range(10)]
    assert allocator.in_use_bytes() - before >= 10 * 4096
    del kept


def test_worker_environment_keeps_the_users_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.check=0")
    assert allocator.worker_environment() == {
        "MALLOC_ARENA_MAX": "1",
        "GLIBC_TUNABLES": "glibc.malloc.check=0:glibc.malloc.tcache_count=0",
    }
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=7")
    assert allocator.worker_environment() == {}
