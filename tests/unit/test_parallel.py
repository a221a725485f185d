from __future__ import annotations

import os
import threading

import pytest

from wfleak.commands.parallel import available_cores, in_order


def test_results_come_in_job_order_whatever_order_jobs_finish_in() -> None:
    finished: list[int] = []
    last_done = threading.Event()

    def work(job: int) -> int:
        if job == 0:
            # The first job finishes last: only after job 2 has.
            assert last_done.wait(timeout=30)
        finished.append(job)
        if job == 2:
            last_done.set()
        return job * 10

    assert list(in_order([0, 1, 2], work, 3, stop_requested=lambda: False)) == [0, 10, 20]
    assert finished[-1] == 0


def test_no_more_than_the_given_number_run_at_once() -> None:
    running = 0
    most = 0
    lock = threading.Lock()
    gate = threading.Barrier(2, timeout=30)

    def work(job: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        gate.wait()  # two at a time must be able to meet here
        with lock:
            running -= 1
        return job

    assert list(in_order(list(range(6)), work, 2, stop_requested=lambda: False)) == list(range(6))
    assert most == 2


@pytest.mark.parametrize("workers", [1, 3])
def test_a_stop_request_starts_nothing_more_and_keeps_what_finished(workers: int) -> None:
    stop = threading.Event()

    def work(job: int) -> int:
        if job == 1:
            stop.set()
        return job

    results = list(in_order(list(range(10)), work, workers, stop_requested=stop.is_set))
    # Job 1 asked for the stop; whatever had started by then is kept, nothing after starts.
    assert results[:2] == [0, 1]
    assert len(results) <= 1 + workers


@pytest.mark.parametrize("workers", [1, 2])
def test_a_final_result_ends_the_check(workers: int) -> None:
    results = list(
        in_order(list(range(8)), lambda job: job, workers, lambda: False, lambda r: r == 0)
    )
    assert results[0] == 0
    assert len(results) <= workers


def test_a_job_that_raises_ends_with_its_error_after_the_jobs_before_it() -> None:
    def work(job: int) -> int:
        if job == 1:
            raise ValueError("boom")
        return job

    seen: list[int] = []
    with pytest.raises(ValueError, match="boom"):
        for result in in_order([0, 1, 2], work, 2, stop_requested=lambda: False):
            seen.append(result)
    assert seen == [0]


def test_auto_means_the_cores_this_process_may_use() -> None:
    assert available_cores() == len(os.sched_getaffinity(0))
