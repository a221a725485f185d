"""A thread pool that grows towards its size at runs timing picks is not a leak of the runs;
threads started without end, and growth in the other runs, still are."""

from __future__ import annotations

from typing import Any

from tests.factories import runs, settings
from wfleak.analysis.verdict import judge, thread_note, thread_starts
from wfleak.model import RunSample, Verdict

POOL_GROWS_AT = (15, 40)
"""Measured runs (1-based) at which asyncio's default executor started another worker, as
on a loaded machine: each brought 24 objects and 2 KiB (its Thread, locks, weak references)."""


def pool_runs(count: int = 50, *, objects_per_run: float = 0.0, **fields: Any) -> list[RunSample]:
    measured = runs(count, objects_per_run=objects_per_run, **fields)
    threads = 2
    objects = bytes_ = 0
    shifted = []
    for run in measured:
        if run.index in POOL_GROWS_AT:
            threads += 1
            objects += 24
            bytes_ += 2048
        shifted.append(
            RunSample(
                **{
                    **run.__dict__,
                    "threads": threads,
                    "gc_objects": run.gc_objects + objects,
                    "traced_bytes": run.traced_bytes + bytes_,
                }
            )
        )
    return shifted


def without_thread_counts(measured: list[RunSample]) -> list[RunSample]:
    return [RunSample(**{**run.__dict__, "threads": 0}) for run in measured]


def test_a_pool_filling_up_at_random_runs_is_ok_and_says_so() -> None:
    measured = pool_runs()
    # Without the thread counts the same heap reads as a leak: the steps are all it has.
    blind = judge(without_thread_counts(measured), settings(50), {}, [])
    assert blind.verdict is Verdict.LEAK
    assessment = judge(measured, settings(50), {}, [])
    assert assessment.verdict is Verdict.OK, assessment.findings
    assert thread_starts(measured) == [k - 1 for k in POOL_GROWS_AT]
    note = thread_note(measured)
    assert note is not None
    assert note.startswith("2 measured runs (15, 40) started a thread that was still running")
    assert "(2 → 4 threads" in note


def test_a_leak_in_the_other_runs_is_still_found() -> None:
    assessment = judge(pool_runs(objects_per_run=2), settings(50), {}, [])
    assert assessment.verdict is Verdict.LEAK
    assert [f.fingerprint for f in assessment.findings] == ["live-object-growth"]


def test_a_thread_started_by_every_run_and_never_ended_is_a_leak() -> None:
    measured = [
        RunSample(
            **{
                **run.__dict__,
                "threads": 2 + k,
                "gc_objects": run.gc_objects + 24 * k,
            }
        )
        for k, run in enumerate(runs(50))
    ]
    assert thread_starts(measured) == []
    assert thread_note(measured) is None
    assert judge(measured, settings(50), {}, []).verdict is Verdict.LEAK
