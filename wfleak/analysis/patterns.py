"""The catalogue of known leak patterns, kept as data.

Each pattern has a stable id, a matcher over a path or cycle (the root's kind, and references
that must appear on it, each a holder type, an edge label and whose code made it), a plain
explanation, a fix with a short example, and for framework bugs the affected and first fixed
releases. A framework entry matches only references made by the framework's own modules (the
owner that ``wfleak.analysis.owner`` finds from where the code lives, never a name), and only
on an affected release: the one that made the references, else the installed one. The first
matching pattern wins, so more specific patterns come before general ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from wfleak.framework import package_version
from wfleak.model import FindingKind, Origin

FRAMEWORK = Origin.FRAMEWORK.value
LIBRARY = Origin.LIBRARY.value
APP = Origin.APP.value
PYTHON = "python"
"""The owner of the interpreter's own code (see ``wfleak.analysis.owner``)."""
FRAMEWORK_ROLES = ("workflow", "context", "handler", "event")
"""What an object is to the engine, decided by ``issubclass`` against the engines' classes."""


@dataclass(frozen=True)
class Step:
    """One reference of a path: its holder's type name, the edge's label, and whose code made
    the reference (decided by ``wfleak.analysis.owner`` from where the code lives)."""

    holder: str
    label: str
    owner: str = ""
    """``framework``, ``library``, ``app``, ``unknown`` or ``python``; empty when not known."""
    distribution: str = ""
    """The installed distribution whose code made the reference (``llama-index-core``)."""
    version: str = ""
    """That distribution's installed release: what framework entries are gated on."""
    role: str = ""
    """What the holder is to the engine (one of ``FRAMEWORK_ROLES``), or empty."""
    reason: str = ""
    """Why ``owner`` is ``unknown``."""
    pending: bool = False
    """The holder is an asyncio task that has not finished."""


def canonical(name: str) -> str:
    """A distribution name as the package index compares them (``llama_index.core`` is
    ``llama-index-core``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class EdgeRule:
    holder: str = ".*"
    """Regular expression matched (in full) against the holder's ``module.Qualname``."""
    label: str = ".*"
    """Regular expression matched (in full) against the edge label."""
    owner: str | None = None
    """Whose code must have made the reference (``framework``, ``app``, ...); None: anyone's."""
    package: str | None = None
    """The distribution whose code must have made it; None: any."""
    role: str | None = None
    """What the holder must be to the engine; None: anything."""
    pending: bool | None = None
    """Whether the holder must be a task still pending; None: either."""

    def matches(self, step: Step) -> bool:
        if self.pending is not None and step.pending is not self.pending:
            return False
        if self.owner is not None and step.owner != self.owner:
            return False
        if self.package is not None and canonical(step.distribution) != canonical(self.package):
            return False
        if self.role is not None and step.role != self.role:
            return False
        return bool(re.fullmatch(self.holder, step.holder) and re.fullmatch(self.label, step.label))


@dataclass(frozen=True)
class Affected:
    package: str
    first: str | None
    last: str | None
    """Last affected release; None when only the first fixed release is on record, or when no
    release has fixed it yet (``fixed_in`` None too)."""
    fixed_in: str | None
    measured_on: tuple[str, ...] = ()
    """Releases on which the entry was measured."""

    def describe(self) -> str:
        fixed = f"; fixed in {self.fixed_in}" if self.fixed_in else ""
        if self.last is None and self.fixed_in is None:
            return f"{self.package} {self.first} and later; no release fixes it yet"
        if self.last is None:
            return f"{self.package} before {self.fixed_in}"
        low = f"{self.first} to " if self.first else "up to "
        return f"{self.package} {low}{self.last}{fixed}"

    def includes(self, version: str) -> bool:
        key = version_key(version)
        if self.first is not None and key < version_key(self.first):
            return False
        if self.last is None:
            return self.fixed_in is None or key < version_key(self.fixed_in)
        return key <= version_key(self.last)


VersionLookup = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Pattern:
    id: str
    title: str
    kind: FindingKind
    origin: Origin
    explanation: str
    fix: str
    fix_example: str
    root_kinds: tuple[str, ...] = ()
    """Root kinds (see ``RootKind``) the path must start at; empty means any."""
    rules: tuple[EdgeRule, ...] = ()
    """References that must all appear on the path or ring."""
    target: str = ".*"
    """Regular expression for the leaked object's type name (LEAK patterns)."""
    target_roles: tuple[str, ...] = ()
    """What the leaked object must be to the engine (``FRAMEWORK_ROLES``); empty means any."""
    root_owner: str | None = None
    """Whose code must have made the path's first reference (the module, class or instance
    that holds the rest); None: anyone's."""
    affected: tuple[Affected, ...] = field(default_factory=tuple)
    fix_when_shared: str = ""
    """The fix when the workflow is already shared across runs, if it differs."""
    fix_example_when_shared: str = ""

    def applies_to(self, steps: Sequence[Step] = (), versions: VersionLookup | None = None) -> bool:
        """Whether a release in the affected range made the references: the release named on
        the path's steps, else the installed one (``versions``, by default the installed
        distributions' metadata)."""
        if not self.affected:
            return True
        lookup = versions if versions is not None else package_version
        for affected in self.affected:
            version = next(
                (
                    s.version
                    for s in steps
                    if s.version and canonical(s.distribution) == canonical(affected.package)
                ),
                None,
            )
            if version is None:
                version = lookup(affected.package)
            if version is not None and affected.includes(version):
                return True
        return False

    def applies_to_installed(self) -> bool:
        return self.applies_to()

    def matches(
        self,
        root_kind: str | None,
        steps: Sequence[Step],
        target: str | Step,
        versions: VersionLookup | None = None,
    ) -> bool:
        """``target`` is the leaked object's type name, or a label-less step for it (which
        carries what it is to the engine)."""
        target_step = target if isinstance(target, Step) else Step(target, "")
        if self.root_kinds and root_kind not in self.root_kinds:
            return False
        if not re.fullmatch(self.target, target_step.holder):
            return False
        if self.target_roles and target_step.role not in self.target_roles:
            return False
        if self.root_owner is not None and (not steps or steps[0].owner != self.root_owner):
            return False
        if not all(any(rule.matches(s) for s in steps) for rule in self.rules):
            return False
        return self.applies_to(steps, versions)

    @property
    def gated(self) -> bool:
        return bool(self.affected)


def version_key(version: str) -> tuple[tuple[int, ...], tuple[int, int]]:
    """Order releases (``1.0rc1`` < ``1.0`` < ``0.12.24.post1`` ordering rules of PEP 440, for
    the plain forms framework releases use) without extra dependencies."""
    match = re.match(r"(\d+(?:\.\d+)*)(?:\.?(a|b|rc|dev|post)(\d*))?", version.strip().lstrip("v"))
    if match is None:
        return ((), (0, 0))
    release = tuple(int(part) for part in match.group(1).split("."))
    release += (0,) * (6 - len(release))
    tag, number = match.group(2), int(match.group(3) or 0)
    if tag is None:
        return (release, (0, 0))
    # Pre-releases sort before the release, post-releases after it.
    return (release, (1, number) if tag == "post" else (-1, number))


_EVENT_LOG = r"\._(broker_log|streaming_queue)"
"""The Context's log of every event and its event stream: what a reused Context grows by."""

CATALOGUE: tuple[Pattern, ...] = (
    Pattern(
        id="WFL101",
        title="Workflow._contexts keeps every Context that run() creates",
        kind=FindingKind.LEAK,
        origin=Origin.FRAMEWORK,
        rules=(EdgeRule(label=r"\._contexts", owner=FRAMEWORK, package="llama-index-core"),),
        explanation=(
            "In llama-index-core up to 0.12.24.post1, Workflow.run() adds the Context it "
            "creates to the workflow's plain set `_contexts` and nothing removes it, so a "
            "shared workflow keeps every run's Context, events and state for good. "
            "Clearing ctx.data does not help: the Context itself stays."
        ),
        fix="Upgrade llama-index-core to 0.12.25 or later (where `_contexts` is a WeakSet).",
        fix_example="pip install 'llama-index-core>=0.12.25'",
        affected=(Affected("llama-index-core", None, "0.12.24.post1", "0.12.25"),),
    ),
    Pattern(
        id="WFL102",
        title="Context and its step tasks form a cycle that only the cyclic GC frees",
        kind=FindingKind.CYCLE,
        origin=Origin.FRAMEWORK,
        rules=(
            EdgeRule(
                label=r"\._tasks", owner=FRAMEWORK, package="llama-index-core", role="context"
            ),
        ),
        explanation=(
            "In llama-index-core up to 0.12.24.post1, a Context holds its step tasks in "
            "`_tasks`, and each finished task's frame (through its saved exception and "
            "traceback, or its closure) refers back to the Context. Refcounting never frees "
            "the ring, so each run's Context, events and state linger until a full "
            "collection happens to run."
        ),
        fix=(
            "Upgrade llama-index-core to 0.12.25 or later; until then, call gc.collect() "
            "between requests."
        ),
        fix_example="pip install 'llama-index-core>=0.12.25'",
        affected=(Affected("llama-index-core", None, "0.12.24.post1", "0.12.25"),),
    ),
    Pattern(
        id="WFL107",
        title="Context and Workflow refer to each other, so each run waits for the cyclic GC",
        kind=FindingKind.CYCLE,
        origin=Origin.FRAMEWORK,
        rules=(EdgeRule(label=r"\._contexts", owner=FRAMEWORK, package="llama-index-core"),),
        explanation=(
            "In llama-index-core up to 0.12.24.post1, a Context keeps its workflow in "
            "`_workflow` and the workflow keeps its Contexts in `_contexts`. With a new "
            "workflow per run, refcounting never frees the pair: each run's workflow, "
            "Context, events and state linger until a full collection runs."
        ),
        fix=(
            "Upgrade llama-index-core to 0.12.25 or later; until then, share one workflow "
            "instance across runs or call gc.collect() between requests."
        ),
        fix_example="pip install 'llama-index-core>=0.12.25'",
        fix_when_shared=(
            "Upgrade llama-index-core to 0.12.25 or later; until then, call gc.collect() "
            "between requests."
        ),
        affected=(Affected("llama-index-core", None, "0.12.24.post1", "0.12.25"),),
    ),
    Pattern(
        id="WFL103",
        title="An asyncio timer pins the run through its copied contextvars",
        kind=FindingKind.LEAK,
        origin=Origin.FRAMEWORK,
        rules=(
            EdgeRule(
                holder=r"asyncio\.events\.(Timer)?Handle", label=r"\._context.*", owner=PYTHON
            ),
            EdgeRule(label=r"\[ContextVar .*\]", owner=FRAMEWORK, package="llama-index-workflows"),
        ),
        explanation=(
            "llama-index-workflows 2.14.0 to 2.17.1 keep the running workflow in a "
            "ContextVar. Any timer scheduled during a run (aiohttp's connector clean-up "
            "timer, for one) copies the contextvars and so holds the whole run until it "
            "fires; a periodic timer holds it for good. Measured with an aiohttp session "
            "opened in a step: with a new workflow per run (or anything of the run keeping "
            "the session), every run stays pinned; 2.17.3 releases them all."
        ),
        fix=(
            "Upgrade llama-index-workflows to 2.17.3 or later; until then, close the session "
            "when the step is done, or schedule long-lived timers with an empty context."
        ),
        fix_example="pip install 'llama-index-workflows>=2.17.3'",
        affected=(Affected("llama-index-workflows", "2.14.0", "2.17.1", "2.17.3"),),
    ),
    Pattern(
        id="WFL109",
        title="A timer scheduled in a step holds the step's events through a framework variable",
        kind=FindingKind.LEAK,
        origin=Origin.FRAMEWORK,
        rules=(
            EdgeRule(
                holder=r"asyncio\.events\.(Timer)?Handle", label=r"\._context.*", owner=PYTHON
            ),
            EdgeRule(
                label=r"\[ContextVar '(step_worker|current_run)'\]",
                owner=FRAMEWORK,
                package="llama-index-workflows",
            ),
        ),
        explanation=(
            "From llama-index-workflows 2.9.0 on, the engine keeps the running step's state "
            "(its event and the events it returns) in the `step_worker` ContextVar. A timer "
            "scheduled inside a step copies the contextvars, so it holds that step's events, "
            "and their payload, until it fires; a timer that schedules itself again (a "
            "client's clean-up or keep-alive timer) holds them for good. Cancelling does "
            "not release them before the timer's due time: the loop keeps a cancelled timer, "
            "and its copied context, until then."
        ),
        fix=(
            "Schedule long-lived timers with an empty context, close the client that owns "
            "the timer when the step is done, or start the client outside the step. No "
            "release of llama-index-workflows fixes it yet."
        ),
        fix_example="loop.call_later(60, tick, context=contextvars.Context())",
        affected=(
            Affected(
                "llama-index-workflows",
                "2.9.0",
                None,
                None,
                measured_on=("2.8.3", "2.9.0", "2.17.3", "2.26.1"),
            ),
        ),
    ),
    Pattern(
        id="WFL104",
        title="The StopEvent stays in the Context's in-progress bookkeeping",
        kind=FindingKind.LEAK,
        origin=Origin.FRAMEWORK,
        root_kinds=("reused Context",),
        rules=(
            EdgeRule(
                label=r"\._in_progress",
                owner=FRAMEWORK,
                package="llama-index-core",
                role="context",
            ),
        ),
        explanation=(
            "In llama-index-core up to 0.12.5, the StopEvent of every run stays in the "
            "Context's in-progress list, so a Context reused across runs keeps them all. "
            "0.12.6 takes it out of that list, but a reused Context still keeps every event "
            "in its broker log (WFL110) on every release of llama-index-core's own engine."
        ),
        fix=(
            "Use a new Context per run; upgrading llama-index-core to 0.12.6 ends only this "
            "reference, not the broker log's."
        ),
        fix_example="ctx = Context(workflow)  # per run\nresult = await workflow.run(ctx=ctx)",
        affected=(
            Affected(
                "llama-index-core", None, "0.12.5", "0.12.6", measured_on=("0.12.5", "0.12.6")
            ),
        ),
    ),
    Pattern(
        id="WFL111",
        title="A Context reused across runs keeps every run's finished step tasks",
        kind=FindingKind.LEAK,
        origin=Origin.FRAMEWORK,
        target=r"(_asyncio\.)?Task",
        rules=(
            EdgeRule(
                label=r"\._tasks", owner=FRAMEWORK, package="llama-index-core", role="context"
            ),
        ),
        explanation=(
            "In llama-index-core up to 0.12.24.post1, a Context adds the step tasks of each "
            "run to its `_tasks` set and keeps them once they are done, so a Context carried "
            "from run to run keeps every run's tasks, and what their frames and results "
            "refer to. Nothing your code stored is in it."
        ),
        fix=(
            "Upgrade llama-index-core to 0.12.25 or later (which drops finished tasks), or "
            "use a new Context per run."
        ),
        fix_example="pip install 'llama-index-core>=0.12.25'",
        affected=(
            Affected(
                "llama-index-core",
                None,
                "0.12.24.post1",
                "0.12.25",
                measured_on=("0.11.23", "0.12.5", "0.12.6", "0.12.24.post1", "0.12.25"),
            ),
        ),
    ),
    Pattern(
        id="WFL108",
        title="A Context reused across runs keeps every event of every run",
        kind=FindingKind.LEAK,
        origin=Origin.FRAMEWORK,
        target_roles=("event",),
        rules=(
            EdgeRule(
                label=_EVENT_LOG,
                owner=FRAMEWORK,
                package="llama-index-workflows",
                role="context",
            ),
        ),
        explanation=(
            "Up to llama-index-workflows 2.8.3, a Context appends every event of every run "
            "to its `_broker_log`, and the step-state events nobody reads pile up in its "
            "`_streaming_queue`; a Context reused across runs keeps them all, with their "
            "payload. Nothing your code stored is in it: clearing the state does not help. "
            "The workflows 2.9 runtime keeps neither."
        ),
        fix=(
            "Upgrade llama-index-workflows to 2.9.0 or later (with llama-index-core, 0.14: "
            "0.14.25 needs llama-index-workflows 2.14.0 or later), or use a new Context per "
            "run and carry over only the state you need."
        ),
        fix_example="pip install 'llama-index-workflows>=2.9.0'",
        affected=(
            Affected(
                "llama-index-workflows",
                None,
                "2.8.3",
                "2.9.0",
                measured_on=("1.3.0", "2.8.3", "2.9.0"),
            ),
        ),
    ),
    Pattern(
        id="WFL110",
        title="A Context reused across runs keeps every event of every run",
        kind=FindingKind.LEAK,
        origin=Origin.FRAMEWORK,
        target_roles=("event",),
        rules=(
            EdgeRule(label=_EVENT_LOG, owner=FRAMEWORK, package="llama-index-core", role="context"),
        ),
        explanation=(
            "llama-index-core's own workflow engine (0.11 to 0.12.42) appends every event of "
            "every run to the Context's `_broker_log` (and the StopEvent to its event "
            "stream), so a Context reused across runs keeps them all, with their payload. "
            "Nothing your code stored is in it: clearing the state does not help. No release "
            "of that engine stops it; the engine of llama-index-workflows 2.9.0 and later "
            "does."
        ),
        fix=(
            "Use a new Context per run and carry over only the state you need, or upgrade "
            "llama-index-core to 0.14 (0.14.25 runs on llama-index-workflows 2.14.0 or "
            "later)."
        ),
        fix_example="ctx = Context(workflow)  # per run\nresult = await workflow.run(ctx=ctx)",
        affected=(
            Affected(
                "llama-index-core",
                "0.11.0",
                "0.12.42",
                None,
                measured_on=(
                    "0.11.23",
                    "0.12.5",
                    "0.12.6",
                    "0.12.10.post1",
                    "0.12.24.post1",
                    "0.12.25",
                ),
            ),
        ),
    ),
    Pattern(
        id="WFL105",
        title="The workflow server's in-memory store keeps every completed run",
        kind=FindingKind.LEAK,
        origin=Origin.LIBRARY,
        rules=(EdgeRule(owner=LIBRARY, package="llama-agents-server"),),
        explanation=(
            "llama-agents-server before 0.2.0 keeps every completed run in its in-memory "
            "workflow store, with no bound."
        ),
        fix="Upgrade llama-agents-server to 0.2.0 or later and set `max_completed`.",
        fix_example="pip install 'llama-agents-server>=0.2.0'",
        affected=(Affected("llama-agents-server", None, None, "0.2.0"),),
    ),
    Pattern(
        id="WFL012",
        title="The workflow server's in-memory store was given no bound: it keeps every run",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        rules=(
            EdgeRule(
                holder=r"llama_agents\.server\..*MemoryWorkflowStore",
                owner=LIBRARY,
                package="llama-agents-server",
            ),
        ),
        explanation=(
            "The workflow server keeps the runs it served in its workflow store. The "
            "in-memory store drops completed runs past `max_completed` (1000 by default); "
            "made with `max_completed=None`, it keeps every completed run, with its events "
            "and result, for as long as the server lives."
        ),
        fix=(
            "Give the store a bound (`MemoryWorkflowStore(max_completed=N)`, or leave the "
            "default), or use a persistent store for runs that must be kept."
        ),
        fix_example="WorkflowServer(workflow_store=MemoryWorkflowStore(max_completed=100))",
    ),
    Pattern(
        id="WFL106",
        title="The runtime's per-run closures form cycles that only the cyclic GC frees",
        kind=FindingKind.CYCLE,
        origin=Origin.FRAMEWORK,
        rules=(
            EdgeRule(
                holder=r"function",
                label=r"closure 'run_workflow'",
                owner=FRAMEWORK,
                package="llama-index-workflows",
            ),
        ),
        explanation=(
            "Each run registers a run function whose closure refers to itself (through "
            "the signature the runtime builds for it), so it, and whatever it refers to, is "
            "freed only by the cyclic GC; with a new workflow per run, that workflow lingers "
            "with it. It is the framework's, not your code's."
        ),
        fix=(
            "Create the workflow once and share it across runs (as services should), or "
            "call gc.collect() after a burst of runs if you must create one per run."
        ),
        fix_example="WORKFLOW = MyWorkflow()  # once, at start-up\n"
        "result = await WORKFLOW.run(**request)",
        fix_when_shared=(
            "Nothing in your code makes this ring, and the workflow is already shared: each "
            "run's ring is freed at the next collection. If the memory between collections "
            "matters, call gc.collect() after a burst of runs (or lower gc.set_threshold)."
        ),
        fix_example_when_shared="gc.collect()  # after a burst of requests, off the hot path",
        affected=(
            Affected("llama-index-workflows", "2.17.3", None, None, measured_on=("2.26.1",)),
        ),
    ),
    Pattern(
        id="WFL009",
        title="app.state keeps something of every request: a handler, a workflow, a session",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        rules=(
            EdgeRule(
                holder=r"starlette\.datastructures\.State",
                label=r"\._state",
                owner=LIBRARY,
                package="starlette",
            ),
        ),
        explanation=(
            "`app.state` lives as long as the application. A request that stores its run's "
            "handler there (for a status endpoint, say), or a per-request workflow or client "
            "session to close at shutdown, keeps it, and everything it refers to, for every "
            "request that follows."
        ),
        fix=(
            "Remove the entry when the request's run ends (in a finally block), keep only the "
            "result or an id in a bounded store, or share one object made at start-up."
        ),
        fix_example="app.state.{name}[run_id] = handler\ntry:\n    return await handler\n"
        "finally:\n    app.state.{name}.pop(run_id, None)",
    ),
    Pattern(
        id="WFL010",
        title="A route function's closure keeps something of every request",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        rules=(
            EdgeRule(
                holder=r"(starlette|fastapi)\.routing\.\w*Route",
                label=r"\.(endpoint|app)",
                owner=LIBRARY,
            ),
            EdgeRule(holder=r"function", label=r"closure '.*'", owner=APP),
        ),
        explanation=(
            "A route function defined inside an app factory closes over the factory's "
            "locals; the router keeps the function for the life of the app, so a container "
            "it closes over and fills per request grows without end."
        ),
        fix="Bound the container, or remove the request's entry when its run ends.",
        fix_example="{name} = collections.deque(maxlen=100)  # instead of a list in the factory",
    ),
    Pattern(
        id="WFL007",
        title="A stored exception keeps its traceback's frames, and the run, alive",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        rules=(EdgeRule(label=r"\.(__traceback__|tb_frame|tb_next)"),),
        explanation=(
            "An exception holds its traceback, the traceback holds every frame it passed "
            "through, and the frames hold their locals: the Context, events and whatever "
            "else the run had."
        ),
        fix="Store the message (str(exc)) or a formatted traceback, not the exception object.",
        fix_example="{name}.append(''.join(traceback.format_exception(exc)))",
    ),
    Pattern(
        id="WFL001",
        title="A module global keeps every run's Context, handler or events",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        root_kinds=("module",),
        root_owner=APP,
        target_roles=FRAMEWORK_ROLES,
        explanation=(
            "A container at module level outlives every request, and each run adds its "
            "Context (with the run's events, state and results) to it."
        ),
        fix="Keep what you need from the run (its result, an id), or a weakref.ref(ctx).",
        fix_example="{name}.append(ctx.run_id)  # or weakref.ref(ctx), not ctx",
    ),
    Pattern(
        id="WFL002",
        title="The shared workflow instance keeps every run's Context, handler or events",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        root_kinds=("shared workflow",),
        root_owner=APP,
        explanation=(
            "Services build one workflow at start-up and run it for every request, so "
            "whatever a step stores on `self` lives as long as the service."
        ),
        fix="Keep per-run state in the run's Context, and return results instead of storing them.",
        fix_example="await ctx.store.set('draft', ev)  # per run, not self.{name}.append(...)",
    ),
    Pattern(
        id="WFL011",
        title="A run its caller stopped waiting for keeps running",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        rules=(EdgeRule(holder=r"(_asyncio\.)?Task", owner=FRAMEWORK, pending=True),),
        explanation=(
            "The pending task is the framework's own: a run that nobody awaits any more "
            "(asyncio.wait_for() around run() stops waiting on timeout but does not stop the "
            "run) goes on with its Context, events and state, and so does every such run."
        ),
        fix=(
            "Cancel the run when you stop waiting for it (await handler.cancel_run() in the "
            "timeout's except block), or give the workflow its own timeout instead of "
            "asyncio.wait_for()."
        ),
        fix_example="workflow = MyWorkflow(timeout=30)  # the run stops itself\n"
        "result = await workflow.run(**request)",
    ),
    Pattern(
        id="WFL003",
        title="A task started by a step or a request handler never finishes",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        rules=(EdgeRule(holder=r"(_asyncio\.)?Task|coroutine", owner=APP),),
        explanation=(
            "A task created with asyncio.create_task() in a step, or in a route handler as a "
            "background task, keeps running after the run or the request ends. Its coroutine "
            "holds the run's objects, and the event loop holds the task, so nothing of the "
            "run can be freed."
        ),
        fix=(
            "Await the task before the step or request returns, cancel it in a finally "
            "block, or let it end with the run (follow the handler's events, not a timer)."
        ),
        fix_example="task = asyncio.create_task(job(ctx))\ntry:\n    ...\nfinally:\n"
        "    task.cancel()",
    ),
    Pattern(
        id="WFL004",
        title="A timer or callback keeps a run alive through copied contextvars",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        rules=(
            EdgeRule(label=r"\._context.*", owner=PYTHON),
            EdgeRule(label=r"\[ContextVar .*\]", owner=APP),
        ),
        explanation=(
            "asyncio copies the current contextvars into every callback, timer and task. "
            "If a ContextVar holds the run (or something of it), every timer scheduled "
            "during the run holds it too, until the timer fires."
        ),
        fix=(
            "Reset the ContextVar with its token when the run ends, and schedule "
            "long-lived timers with an empty context."
        ),
        fix_example="previous = {name}.set(run)\ntry:\n    ...\nfinally:\n"
        "    {name}.reset(previous)\nloop.call_later(60, tick, context=contextvars.Context())",
    ),
    Pattern(
        id="WFL005",
        title="An lru_cache without a bound grows with every run",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        root_owner=APP,
        rules=(EdgeRule(holder=r"functools\._lru_cache_wrapper"),),
        explanation=(
            "functools.lru_cache(maxsize=None) (or functools.cache) never evicts; keyed by "
            "something unique to a request, it adds an entry every run."
        ),
        fix="Give the cache a bound, or key it by something that repeats.",
        fix_example="@functools.lru_cache(maxsize=1024)",
    ),
    Pattern(
        id="WFL006",
        title="A class-level container grows with every run",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        root_kinds=("class",),
        root_owner=APP,
        explanation=(
            "A dict or list defined on a class is shared by every instance and lives as "
            "long as the class, so entries added per run are never freed."
        ),
        fix="Bound it (an LRU, a deque(maxlen=...)), or keep it per instance or per run.",
        fix_example="{name}: collections.OrderedDict  # evict the oldest past a bound",
    ),
    Pattern(
        id="WFL008",
        title="State piles up in a Context reused across runs",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        root_kinds=("reused Context",),
        explanation=(
            "A Context carried from run to run keeps everything its runs stored in it; "
            "without clearing, it grows with every run."
        ),
        fix="Create a new Context per run, or clear what a run stored when it ends.",
        fix_example="ctx = Context(workflow)  # per request",
    ),
)


def match(
    kind: FindingKind,
    root_kind: str | None,
    steps: Sequence[Step],
    target: str | Step,
    versions: VersionLookup | None = None,
) -> Pattern | None:
    for pattern in CATALOGUE:
        if pattern.kind is kind and pattern.matches(root_kind, steps, target, versions):
            return pattern
    return None


def by_id(pattern_id: str) -> Pattern:
    for pattern in CATALOGUE:
        if pattern.id == pattern_id:
            return pattern
    raise KeyError(pattern_id)
