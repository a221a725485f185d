"""What the request path and the garbage collector do for the watcher: note, never act.

Everything here runs on the service's own threads, inside ``Workflow.run()``, inside a
garbage collection (``gc.callbacks``) or inside a weakref callback. It only creates weak
references, appends tuples to a deque and sets plain attributes: a deque append is atomic in
CPython and takes no lock, and a lock taken inside a collection can deadlock the thread that
triggered it. The watcher's thread does the counting, the metrics and the explanations.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections import deque
from collections.abc import Callable
from enum import IntEnum
from time import monotonic, perf_counter
from typing import Any, ClassVar

from wfleak.framework import type_name

MAX_LABELS = 50
"""Distinct ``workflow`` label values; later workflow classes share the label ``other``."""
OTHER_LABEL = "other"
MAX_BORN = 10_000
"""Workflows made but not run yet whose birth task is remembered; beyond, the memory is dropped
and such workflows count as shared (so they are never blamed)."""
MAX_SHARED = 64
"""Long-lived workflow instances remembered as roots of the explanations."""
MAX_STEP_CONTEXTS = 8
"""Step Contexts watched per run at once; a step's Context normally dies with the step, so
only the ones still alive take a place."""

MAX_REFS = MAX_STEP_CONTEXTS + 3
"""The handler, its Context and the workflow, and the step Contexts."""

CURRENT_RUN: contextvars.ContextVar[Run | None] = contextvars.ContextVar(
    "wfleak_current_run", default=None
)
"""The run whose tasks the code is in: the run's tasks copy it when ``run()`` creates them."""


class Event(IntEnum):
    STARTED = 0
    ENDED = 1
    DIED = 2
    COLLECTED = 3
    """A generation-2 collection finished; carries the time it started."""


# Plain names for the members the hooks use: an Enum attribute costs a lookup per access.
_STARTED, _ENDED, _DIED, _COLLECTED = Event


class RunState(IntEnum):
    IN_FLIGHT = 0
    WAITING = 1
    """Ended, waiting for its grace period and a full collection."""
    RETAINED = 2
    FREED = 3


class Role(IntEnum):
    HANDLER = 0
    CONTEXT = 1
    WORKFLOW = 2
    STEP_CONTEXT = 3


class Run:
    """One watched run: weak references to its objects and what the watcher learnt."""

    __slots__ = (
        "cycle",
        "done",
        "ended_at",
        "label",
        "refs",
        "state",
        "workflow_id",
        "workflow_reused",
    )

    def __init__(self, label: str) -> None:
        self.label = label
        self.refs: list[RunRef] = []
        self.done: weakref.ref[asyncio.Future[Any]] | None = None
        """The future that completes with the run; the watcher's thread polls it, which
        costs the run less than a done callback (its bound method and context copy)."""
        self.ended_at = 0.0
        self.state = RunState.IN_FLIGHT
        self.cycle = False
        self.workflow_id = 0
        self.workflow_reused = False

    def finished(self) -> bool:
        """Whether the run's future is done (or gone: a pending task is kept by its loop)."""
        if self.done is None:
            return True
        future = self.done()
        return future is None or future.done()

    def alive(self) -> list[Any]:
        """The run's objects still alive (strong references: drop them soon)."""
        found = []
        for ref in tuple(self.refs):
            if type(ref) is _WorkflowRef and self.workflow_reused:
                continue
            obj = ref()
            if obj is not None:
                found.append(obj)
        return found


class RunRef(weakref.ref):  # type: ignore[type-arg]
    """A weak reference that knows its run; its class says what the object is to the run
    (a class attribute, so it costs nothing per reference)."""

    # Slots keep the bookkeeping per watched object to one small, fixed-size record.
    __slots__ = ("run",)
    role: ClassVar[Role]
    run: Run


class _HandlerRef(RunRef):
    __slots__ = ()
    role = Role.HANDLER


class _ContextRef(RunRef):
    __slots__ = ()
    role = Role.CONTEXT


class _WorkflowRef(RunRef):
    __slots__ = ()
    role = Role.WORKFLOW


class _StepContextRef(RunRef):
    __slots__ = ()
    role = Role.STEP_CONTEXT


def _watch(obj: object, callback: Callable[[RunRef], None], run: Run, kind: type[RunRef]) -> RunRef:
    ref = kind(obj, callback)
    ref.run = run
    return ref


def _forget(table: dict[int, weakref.ref[Any]], key: int) -> Callable[[object], None]:
    def forget(_: object) -> None:
        table.pop(key, None)

    return forget


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


class Recorder:
    """The hot half of the watcher: called by the run hook, the GC and weakref callbacks."""

    def __init__(self) -> None:
        self.events: deque[tuple[Any, ...]] = deque()
        self.enabled = True
        self.collecting = False
        self.collection_started = 0.0
        self.cost_s = 0.0
        """Time spent in the hooks on the service's threads (updated without a lock, so an
        estimate; enough for the overhead budget)."""
        self.labels: dict[type, str] = {}
        self.born: dict[int, weakref.ref[asyncio.Task[Any]] | None] = {}
        self.per_run_workflows: dict[int, Run] = {}
        self.shared_workflows: dict[int, weakref.ref[Any]] = {}

    # -- gc.callbacks ---------------------------------------------------------------------
    def on_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.collecting = True
            self.collection_started = monotonic()
        else:
            self.collecting = False
            if info.get("generation") == 2:
                self.events.append((_COLLECTED, self.collection_started))

    # -- weakref callback -----------------------------------------------------------------
    def died(self, ref: RunRef) -> None:
        self.events.append((_DIED, ref, self.collecting))

    # -- Workflow.__init__ and Workflow.run ------------------------------------------------
    def workflow_made(self, workflow: object) -> None:
        """Remembers the task a workflow is made in: one made in the task that then runs it
        is made per run, and its life is the run's."""
        if not self.enabled:
            return
        started = perf_counter()
        born = self.born
        if len(born) >= MAX_BORN:
            born.clear()
        task = _current_task()
        born[id(workflow)] = None if task is None else weakref.ref(task)
        self.cost_s += perf_counter() - started

    def step_context(self, context: object) -> None:
        """A Context made for one step (llama-index-workflows 2.x gives each step its own)."""
        run = CURRENT_RUN.get()
        if run is None or not self.enabled:
            return
        started = perf_counter()
        refs = run.refs
        if len(refs) >= MAX_REFS:
            # One assignment, so the watcher's thread (which copies the list) sees either.
            refs[:] = [r for r in refs if type(r) is not _StepContextRef or r() is not None]
            if len(refs) >= MAX_REFS:
                self.cost_s += perf_counter() - started
                return
        # A plain try is cheaper than contextlib.suppress() on the request path.
        try:  # noqa: SIM105
            refs.append(_watch(context, self.died, run, _StepContextRef))
        except TypeError:
            pass
        self.cost_s += perf_counter() - started

    def run_starting(self) -> Run | None:
        """Called before the original ``run()``: the run's record, set as the current run so
        the tasks ``run()`` creates carry it."""
        return Run(OTHER_LABEL) if self.enabled else None

    def run_started(self, workflow: object, handler: object, run: Run | None) -> None:
        if run is None or not self.enabled:
            return
        started = perf_counter()
        tp = type(workflow)
        label = self.labels.get(tp)
        run.label = self._label(tp) if label is None else label
        died = self.died
        refs = run.refs
        for obj, kind in ((handler, _HandlerRef), (getattr(handler, "ctx", None), _ContextRef)):
            if obj is not None:
                try:  # noqa: SIM105
                    refs.append(_watch(obj, died, run, kind))
                except TypeError:
                    pass  # a class without weak reference support cannot be watched
        key = id(workflow)
        previous = self.per_run_workflows.pop(key, None)
        if previous is not None:
            # Run twice: the workflow outlives one run on purpose.
            previous.workflow_reused = True
        birth = self.born.pop(key, None)
        if birth is not None and birth() is _current_task():
            try:
                refs.append(_watch(workflow, died, run, _WorkflowRef))
                run.workflow_id = key
                self.per_run_workflows[key] = run
            except TypeError:
                pass
        elif previous is None and key not in self.shared_workflows:
            shared = self.shared_workflows
            if len(shared) < MAX_SHARED:
                try:  # noqa: SIM105
                    shared[key] = weakref.ref(workflow, _forget(shared, key))
                except TypeError:
                    pass
        done = (
            handler
            if isinstance(handler, asyncio.Future)
            else getattr(handler, "_result_task", None)
        )
        self.events.append((_STARTED, run))
        if isinstance(done, asyncio.Future):
            run.done = weakref.ref(done)
        else:
            run.ended_at = monotonic()
            self.events.append((_ENDED, run))
        self.cost_s += perf_counter() - started

    def _label(self, tp: type) -> str:
        if len(self.labels) >= MAX_LABELS:
            # Not cached: a program that makes classes at run time must not grow this dict.
            return OTHER_LABEL
        label = type_name(tp)
        self.labels[tp] = label
        return label
