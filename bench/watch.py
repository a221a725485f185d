"""wfleak.watch() in a service: what watching costs each run, and what explaining pauses.

Three probes, each in a fresh process (``python -m bench.watch PROBE``), against a baseline
measured in the same process:

- latency: a workflow run of about 1 ms, in blocks with and without the watcher, alternating;
  the CPU time the watcher costs a run (its hooks on the run's thread, timed directly over many
  calls with the thread's CPU clock, and its own thread's CPU clock), which a loaded machine
  does not inflate; and the wall time the watcher's hooks and thread timed themselves;
- memory: runs held in flight at once, the bytes the watcher allocated for them (tracemalloc,
  only wfleak's own lines) per run;
- fork: a heap of 1M GC-tracked objects with one retained run; the time ``fork()`` holds the
  service, against the time an in-process heap index would hold it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from bench.common import PYTHON, run, table

RUN_S = 0.001
LATENCY_BUDGET = 0.02
"""Of a 1 ms run."""
MEMORY_BUDGET = 1024
FORK_BUDGET_S = 0.05
HEAP_OBJECTS = 1_000_000


def _workflows() -> tuple[Any, Any]:
    from llama_index.core.workflow import Context, StartEvent, StopEvent, Workflow, step

    class MillisecondWorkflow(Workflow):
        @step
        async def work(self, ev: StartEvent) -> StopEvent:
            until = time.perf_counter() + RUN_S / 2
            while time.perf_counter() < until:
                pass
            return StopEvent(result="done")

    class WaitingWorkflow(Workflow):
        @step
        async def wait(self, ctx: Context, ev: StartEvent) -> StopEvent:
            started.append(1)
            await WaitingWorkflow.release.wait()  # type: ignore[attr-defined]
            return StopEvent(result="done")

    started: list[int] = []
    WaitingWorkflow.started = started  # type: ignore[attr-defined]
    return MillisecondWorkflow, WaitingWorkflow


def _watch() -> Any:
    from prometheus_client import CollectorRegistry

    import wfleak

    # The defaults a service runs with; no forced collections: their cost is the service's
    # choice (collect_every), not watching's.
    return wfleak.watch(registry=CollectorRegistry(), explain="off")


def _thread_cpu(thread: Any) -> float:
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def hooks_cpu_per_run(workflow: Any, calls: int) -> float:
    """CPU seconds the hooks take for one run, on the run's thread: ``run()``'s wrapper
    around a finished run's handler, one step Context, and the deaths of the run's objects.

    Timed over many calls with the thread's CPU clock, so neither the machine's load nor the
    run's own variation blurs a cost of a few microseconds.
    """
    from wfleak.live.hook import _wrap_run
    from wfleak.live.recorder import CURRENT_RUN, Recorder

    async def one_run() -> Any:
        handler = workflow.run()
        await handler
        return handler

    handler = asyncio.run(one_run())
    context = handler.ctx
    recorder = Recorder()
    run = _wrap_run(lambda _self: handler, recorder)
    started = time.thread_time()
    for _ in range(calls):
        run(workflow)
        record = recorder.events[-1][1]
        token = CURRENT_RUN.set(record)
        recorder.step_context(context)
        CURRENT_RUN.reset(token)
        for ref in record.refs:
            recorder.died(ref)
        recorder.events.clear()
    return (time.thread_time() - started) / calls


def probe_latency(blocks: int, runs: int) -> dict[str, float]:
    millisecond, _ = _workflows()
    workflow = millisecond()

    async def block() -> float:
        started = time.perf_counter()
        for _ in range(runs):
            await workflow.run()
        return (time.perf_counter() - started) / runs

    async def main() -> dict[str, float]:
        for _ in range(runs):
            await workflow.run()
        plain: list[float] = []
        watched: list[float] = []
        hook_s = 0.0
        thread_s = 0.0
        thread_cpu_s = 0.0
        for _ in range(blocks):
            plain.append(await block())
            watcher = _watch()
            watched.append(await block())
            # Until the watcher's thread has taken in every run (its tick is 0.5 s here).
            while watcher.pending > 0:
                await asyncio.sleep(0.05)
            hook_s += watcher._recorder.cost_s
            thread_s += watcher._thread_cost
            thread_cpu_s += _thread_cpu(watcher._thread)
            watcher.close()
        return {
            "plain_s": statistics.median(plain),
            "watched_s": statistics.median(watched),
            "hook_s": hook_s / (blocks * runs),
            "thread_s": thread_s / (blocks * runs),
            "thread_cpu_s": thread_cpu_s / (blocks * runs),
        }

    result = asyncio.run(main())
    result["hooks_cpu_s"] = min(hooks_cpu_per_run(workflow, 20_000) for _ in range(3))
    return result


def probe_memory(in_flight: int) -> dict[str, float]:
    _, waiting = _workflows()

    async def hold(watch: bool) -> int:
        """Bytes allocated (all of them, anyone's) while ``in_flight`` runs wait at once."""
        workflow = waiting(timeout=None)
        waiting.release = asyncio.Event()
        waiting.release.set()
        await workflow.run()  # the first run does the runtime's one-off set-up
        watcher = _watch() if watch else None
        await workflow.run()
        waiting.started.clear()
        waiting.release.clear()
        gc.collect()
        before, _ = tracemalloc.get_traced_memory()
        handlers = [workflow.run() for _ in range(in_flight)]
        while len(waiting.started) < in_flight:
            await asyncio.sleep(0.01)
        after, _ = tracemalloc.get_traced_memory()
        waiting.release.set()
        for handler in handlers:
            await handler
        del handlers
        if watcher is not None:
            watcher.close()
        return after - before

    tracemalloc.start(1)
    plain = [asyncio.run(hold(False)) for _ in range(3)]
    watched = [asyncio.run(hold(True)) for _ in range(3)]
    return {
        "plain_per_run": statistics.median(plain) / in_flight,
        "watched_per_run": statistics.median(watched) / in_flight,
        "bytes_per_run": (statistics.median(watched) - statistics.median(plain)) / in_flight,
    }


class _Retained:
    pass


KEPT: list[Any] = []


def probe_fork(objects: int, repeat: int) -> dict[str, float]:
    from wfleak.analysis.heap import HeapIndex
    from wfleak.live import fork
    from wfleak.live.analysis import Suspects, warm_up

    heap = [[k] for k in range(objects)]
    KEPT.append(_Retained())
    warm_up()
    gc.collect()
    pauses: list[float] = []
    pause_cpus: list[float] = []
    durations: list[float] = []
    found = 0
    for _ in range(repeat):
        result = fork.explain_in_fork(Suspects("bench", list(KEPT), {"_Retained": 1}, []))
        if result.error:
            raise RuntimeError(result.error)
        pauses.append(result.pause_s)
        pause_cpus.append(result.pause_cpu_s)
        durations.append(result.duration_s)
        found = len(result.findings)
    started = time.perf_counter()
    index = HeapIndex.build()
    in_process = time.perf_counter() - started
    size = len(index)
    index.release()
    del heap
    return {
        "heap_objects": size,
        "pause_s": statistics.median(pauses),
        "max_pause_s": max(pauses),
        "pause_cpu_s": statistics.median(pause_cpus),
        "child_s": statistics.median(durations),
        "in_process_s": in_process,
        "findings": found,
    }


def _probe(*args: str) -> dict[str, float]:
    _, output = run([PYTHON, "-m", "bench.watch", *args])
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def measure(quick: bool = False) -> str:
    latency = _probe("latency", "5" if quick else "15", "200")
    memory = _probe("memory", "500" if quick else "1000")
    forked = _probe("fork", str(HEAP_OBJECTS), "3" if quick else "5")
    budget_us = RUN_S * LATENCY_BUDGET * 1e6
    cpu_us = (latency["hooks_cpu_s"] + latency["thread_cpu_s"]) * 1e6
    own_us = (latency["hook_s"] + latency["thread_s"]) * 1e6
    difference_us = (latency["watched_s"] - latency["plain_s"]) * 1e6
    rows = [
        (
            "run latency, plain / watched (median of blocks)",
            f"{latency['plain_s'] * 1e3:.3f} ms / {latency['watched_s'] * 1e3:.3f} ms",
            f"{latency['watched_s'] / latency['plain_s']:.3f}×",
            "",
        ),
        (
            "watcher's CPU per run (hooks, timed directly + its thread's CPU clock)",
            f"{cpu_us:.1f} µs ({latency['hooks_cpu_s'] * 1e6:.1f} + "
            f"{latency['thread_cpu_s'] * 1e6:.1f})",
            f"{cpu_us / (RUN_S * 1e6):.1%} of 1 ms",
            f"≤ {budget_us:.0f} µs (2 %)",
        ),
        (
            "watcher's own time per run as it times itself (wall clock: hooks + its thread)",
            f"{own_us:.1f} µs ({latency['hook_s'] * 1e6:.1f} + {latency['thread_s'] * 1e6:.1f})",
            f"{own_us / (latency['plain_s'] * 1e6):.2%} of this machine's "
            f"{latency['plain_s'] * 1e3:.2f} ms run",
            "≤ 2 %; preemption inflates it",
        ),
        (
            "latency difference watched − plain",
            f"{difference_us:.1f} µs",
            f"{difference_us / (RUN_S * 1e6):.1%} of 1 ms",
            "reported (noisy)",
        ),
        (
            "memory per run in flight",
            f"{memory['bytes_per_run']:.0f} B",
            f"{memory['bytes_per_run'] / MEMORY_BUDGET:.2f} of budget",
            f"≤ {MEMORY_BUDGET} B",
        ),
        (
            f"fork pause, heap of {forked['heap_objects'] / 1e6:.2f}M objects (median, max)",
            f"{forked['pause_s'] * 1e3:.1f} ms, {forked['max_pause_s'] * 1e3:.1f} ms",
            f"{forked['pause_s'] / forked['in_process_s']:.3f}× of an in-process index "
            f"({forked['in_process_s'] * 1e3:.0f} ms)",
            f"≤ {FORK_BUDGET_S * 1e3:.0f} ms",
        ),
        (
            "fork pause, CPU time of the forking thread (median)",
            f"{forked['pause_cpu_s'] * 1e3:.1f} ms",
            "the pause less its wait for a core",
            f"≤ {FORK_BUDGET_S * 1e3:.0f} ms",
        ),
        (
            "forked analysis, wall time (the service keeps serving)",
            f"{forked['child_s']:.2f} s",
            f"{int(forked['findings'])} finding",
            "reported",
        ),
    ]
    return table("7. wfleak.watch() in a service", ["measure", "value", "ratio", "target"], rows)


def main(argv: list[str]) -> int:
    probe, *args = argv
    numbers = [int(a) for a in args]
    probes: dict[str, Callable[..., dict[str, float]]] = {
        "latency": probe_latency,
        "memory": probe_memory,
        "fork": probe_fork,
    }
    result = probes[probe](*numbers)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
