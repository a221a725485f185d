"""The catalogue of known leak patterns, kept as data.

Each pattern has a stable id, a matcher over a path or cycle (the root's kind, and references
that must appear on it, each a holder type and an edge label), a plain explanation, a fix with
a short example, and for framework bugs the affected and first fixed releases, checked
against what is installed. The first matching pattern wins, so more specific patterns come
before general ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from wfleak.framework import package_version
from wfleak.model import FindingKind, Origin


@dataclass(frozen=True)
class Step:
    """One reference of a path: its holder's type name and the edge's label."""

    holder: str
    label: str


@dataclass(frozen=True)
class EdgeRule:
    holder: str = ".*"
    """Regular expression matched (in full) against the holder's ``module.Qualname``."""
    label: str = ".*"
    """Regular expression matched (in full) against the edge label."""

    def matches(self, step: Step) -> bool:
        return bool(re.fullmatch(self.holder, step.holder) and re.fullmatch(self.label, step.label))


@dataclass(frozen=True)
class Affected:
    package: str
    first: str | None
    last: str | None
    """Last affected release; None when only the first fixed release is on record."""
    fixed_in: str | None

    def describe(self) -> str:
        fixed = f"; fixed in {self.fixed_in}" if self.fixed_in else ""
        if self.last is None:
            return f"{self.package} before {self.fixed_in}"
        low = f"{self.first} to " if self.first else "up to "
        return f"{self.package} {low}{self.last}{fixed}"


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
    affected: tuple[Affected, ...] = field(default_factory=tuple)

    def applies_to_installed(self) -> bool:
        if not self.affected:
            return True
        return any(_installed_in(a) for a in self.affected)

    def matches(self, root_kind: str | None, steps: Sequence[Step], target: str) -> bool:
        if self.root_kinds and root_kind not in self.root_kinds:
            return False
        if not re.fullmatch(self.target, target):
            return False
        if not all(any(rule.matches(s) for s in steps) for rule in self.rules):
            return False
        return self.applies_to_installed()


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


def _installed_in(affected: Affected) -> bool:
    installed = package_version(affected.package)
    if installed is None:
        return False
    key = version_key(installed)
    if affected.first is not None and key < version_key(affected.first):
        return False
    if affected.last is None:
        return affected.fixed_in is not None and key < version_key(affected.fixed_in)
    return key <= version_key(affected.last)


_CONTEXT_LIKE = r".*(Context|WorkflowHandler|Handler|Event|Workflow)"

CATALOGUE: tuple[Pattern, ...] = (
    Pattern(
        id="WFL101",
        title="Workflow._contexts keeps every Context that run() creates",
        kind=FindingKind.LEAK,
        origin=Origin.FRAMEWORK,
        rules=(EdgeRule(label=r"\._contexts"),),
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
        rules=(EdgeRule(holder=r".*Context", label=r"\._tasks"),),
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
        rules=(EdgeRule(label=r"\._contexts"),),
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
        affected=(Affected("llama-index-core", None, "0.12.24.post1", "0.12.25"),),
    ),
    Pattern(
        id="WFL103",
        title="An asyncio timer pins the run through its copied contextvars",
        kind=FindingKind.LEAK,
        origin=Origin.FRAMEWORK,
        rules=(EdgeRule(holder=r".*(TimerHandle|Handle)", label=r"\._context.*"),),
        explanation=(
            "llama-index-workflows 2.14.0 to 2.17.1 keep the running workflow in a "
            "ContextVar. Any timer scheduled during a run (aiohttp's connector clean-up "
            "timer, for one) copies the contextvars and so holds the whole run until it "
            "fires; a periodic timer holds it for good."
        ),
        fix="Upgrade llama-index-workflows to 2.17.3 or later.",
        fix_example="pip install 'llama-index-workflows>=2.17.3'",
        affected=(Affected("llama-index-workflows", "2.14.0", "2.17.1", "2.17.3"),),
    ),
    Pattern(
        id="WFL104",
        title="The StopEvent stays in the Context's in-progress bookkeeping",
        kind=FindingKind.LEAK,
        origin=Origin.FRAMEWORK,
        root_kinds=("reused Context",),
        rules=(EdgeRule(holder=r".*Context", label=r"\._in_progress"),),
        explanation=(
            "In llama-index-core up to 0.12.5, the StopEvent of every run stays in the "
            "Context's in-progress list, so a Context reused across runs keeps them all."
        ),
        fix="Upgrade llama-index-core to 0.12.6 or later, or use a new Context per run.",
        fix_example="pip install 'llama-index-core>=0.12.6'",
        affected=(Affected("llama-index-core", None, "0.12.5", "0.12.6"),),
    ),
    Pattern(
        id="WFL105",
        title="The workflow server's in-memory store keeps every completed run",
        kind=FindingKind.LEAK,
        origin=Origin.FRAMEWORK,
        rules=(EdgeRule(holder=r".*(Memory|InMemory)\w*Store"),),
        explanation=(
            "llama-agents-server before 0.2.0 keeps every completed run in its in-memory "
            "workflow store, with no bound."
        ),
        fix="Upgrade llama-agents-server to 0.2.0 or later and set `max_completed`.",
        fix_example="pip install 'llama-agents-server>=0.2.0'",
        affected=(Affected("llama-agents-server", None, None, "0.2.0"),),
    ),
    Pattern(
        id="WFL106",
        title="The runtime's per-run closures form cycles that only the cyclic GC frees",
        kind=FindingKind.CYCLE,
        origin=Origin.FRAMEWORK,
        rules=(EdgeRule(holder=r"function", label=r"closure 'run_workflow'"),),
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
    ),
    Pattern(
        id="WFL009",
        title="app.state keeps something of every request: a handler, a workflow, a session",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        rules=(EdgeRule(holder=r"starlette\.datastructures\.State", label=r"\._state"),),
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
        fix_example="app.state.handlers[run_id] = handler\ntry:\n    return await handler\n"
        "finally:\n    app.state.handlers.pop(run_id, None)",
    ),
    Pattern(
        id="WFL010",
        title="A route function's closure keeps something of every request",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        rules=(
            EdgeRule(holder=r"(starlette|fastapi)\.routing\.\w*Route", label=r"\.(endpoint|app)"),
            EdgeRule(holder=r"function", label=r"closure '.*'"),
        ),
        explanation=(
            "A route function defined inside an app factory closes over the factory's "
            "locals; the router keeps the function for the life of the app, so a container "
            "it closes over and fills per request grows without end."
        ),
        fix="Bound the container, or remove the request's entry when its run ends.",
        fix_example="recent = collections.deque(maxlen=100)  # instead of a list in the factory",
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
        fix_example="ERRORS.append(''.join(traceback.format_exception(exc)))",
    ),
    Pattern(
        id="WFL001",
        title="A module global keeps every run's Context, handler or events",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        root_kinds=("module",),
        target=_CONTEXT_LIKE,
        explanation=(
            "A container at module level outlives every request, and each run adds its "
            "Context (with the run's events, state and results) to it."
        ),
        fix="Keep what you need from the run (its result, an id), or a weakref.ref(ctx).",
        fix_example="HISTORY.append(ctx.run_id)  # or weakref.ref(ctx), not ctx",
    ),
    Pattern(
        id="WFL002",
        title="The shared workflow instance keeps every run's Context, handler or events",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        root_kinds=("shared workflow",),
        explanation=(
            "Services build one workflow at start-up and run it for every request, so "
            "whatever a step stores on `self` lives as long as the service."
        ),
        fix="Keep per-run state in the run's Context, and return results instead of storing them.",
        fix_example="await ctx.store.set('draft', ev)  # per run, not self.seen.append(...)",
    ),
    Pattern(
        id="WFL003",
        title="A task started by a step or a request handler never finishes",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
        rules=(EdgeRule(holder=r"(_asyncio\.)?Task|coroutine", label=r".*"),),
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
        rules=(EdgeRule(label=r"\._context.*"),),
        explanation=(
            "asyncio copies the current contextvars into every callback, timer and task. "
            "If a ContextVar holds the run (or something of it), every timer scheduled "
            "during the run holds it too, until the timer fires."
        ),
        fix=(
            "Reset the ContextVar with its token when the run ends, and schedule "
            "long-lived timers with an empty context."
        ),
        fix_example="token = CURRENT_RUN.set(run)\ntry:\n    ...\nfinally:\n"
        "    CURRENT_RUN.reset(token)\nloop.call_later(60, tick, context=contextvars.Context())",
    ),
    Pattern(
        id="WFL005",
        title="An lru_cache without a bound grows with every run",
        kind=FindingKind.LEAK,
        origin=Origin.APP,
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
        explanation=(
            "A dict or list defined on a class is shared by every instance and lives as "
            "long as the class, so entries added per run are never freed."
        ),
        fix="Bound it (an LRU, a deque(maxlen=...)), or keep it per instance or per run.",
        fix_example="_cache: collections.OrderedDict  # evict the oldest past a bound",
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
    kind: FindingKind, root_kind: str | None, steps: Sequence[Step], target: str
) -> Pattern | None:
    for pattern in CATALOGUE:
        if pattern.kind is kind and pattern.matches(root_kind, steps, target):
            return pattern
    return None


def by_id(pattern_id: str) -> Pattern:
    for pattern in CATALOGUE:
        if pattern.id == pattern_id:
            return pattern
    raise KeyError(pattern_id)
