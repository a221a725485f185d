"""The result model: plain frozen dataclasses that every renderer reads.

The model is the contract between the analysis and the renderers (terminal, JSON, diagrams,
CI). It holds no live objects, only numbers and strings, so it can cross a process boundary
and round-trip through JSON (see :mod:`wfleak.serde`). ``SCHEMA_VERSION`` changes whenever a
field is removed or changes meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

SCHEMA_VERSION = 2
AUTO_ITERATIONS = "auto"


class Verdict(StrEnum):
    """Overall outcome, most severe first: LEAK, then CYCLE, then INCONCLUSIVE, then OK.

    INCONCLUSIVE: no finding, but the evidence cannot support OK (see the report's reasons).
    """

    OK = "ok"
    INCONCLUSIVE = "inconclusive"
    CYCLE = "cycle"
    LEAK = "leak"

    @property
    def severity(self) -> int:
        return {Verdict.OK: 0, Verdict.INCONCLUSIVE: 1, Verdict.CYCLE: 2, Verdict.LEAK: 3}[self]


class ReasonCode(StrEnum):
    """Why the evidence cannot support OK (or why a finding could not be explained)."""

    TOO_FEW_RUNS = "too_few_runs"
    NO_MEASURED_RUNS = "no_measured_runs"
    RUNS_FAILED = "runs_failed"
    PROBE_FAILED = "probe_failed"
    BUDGET_EXCEEDED = "budget_exceeded"
    EXPLANATION_FAILED = "explanation_failed"
    HELD_BY_PENDING_TIMER = "held_by_pending_timer"
    GROWTH_UNCERTAIN = "growth_uncertain"
    """A trend rises at its threshold or more, over all runs and in their second half, but not
    beyond the runs' noise: they neither show a leak nor rule one out."""
    STOPPED = "stopped"
    """A signal ended measuring before the planned runs: flat trends over the runs done so far
    are not the OK the full run would have earned."""


@dataclass(frozen=True)
class Reason:
    """One reason the verdict is weaker than it looks: a code and what to do about it."""

    code: ReasonCode
    message: str


class WorkflowMode(StrEnum):
    """How the workflow instance is provided to each run."""

    SHARED = "shared"
    FRESH = "fresh"


class ContextMode(StrEnum):
    """How the Context is provided to each run."""

    AUTO = "auto"
    NEW = "new"
    REUSE = "reuse"


class StopReason(StrEnum):
    """Why measuring ended before all runs were done."""

    FAILED = "failed"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"
    """Ctrl-C (SIGINT)."""
    TERMINATED = "terminated"
    """SIGTERM or SIGHUP: a CI timeout or cancellation, ``docker stop``, a closed terminal."""
    CRASHED = "crashed"
    MAX_TIME = "max_time"


class FindingKind(StrEnum):
    LEAK = "leak"
    CYCLE = "cycle"


class Origin(StrEnum):
    """Who must act on a finding, decided from where the holding references' code lives.

    FRAMEWORK: the workflow engine (the ``workflows`` package, or llama-index-core's own engine
    modules). LIBRARY: any other installed distribution, a web framework included. APP: the
    user's project. UNKNOWN: nothing could be determined (the finding says why).
    """

    APP = "app"
    FRAMEWORK = "framework"
    LIBRARY = "library"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Environment:
    python: str
    platform: str
    wfleak: str
    llama_index_core: str | None = None
    workflows: str | None = None


@dataclass(frozen=True)
class ServiceRequest:
    """One request of the rotation sent to an ASGI app target."""

    method: str
    path: str
    """Path with its query string, as sent (``/ask?stream=1``)."""
    headers: list[list[str]] = field(default_factory=list)
    """``[name, value]`` pairs, in order."""
    body: str = ""
    """The request body as text (JSON already encoded)."""
    expect: list[int] = field(default_factory=list)
    """Statuses that count as success; empty means any status below 400."""

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Settings:
    target: str
    iterations: int | str
    """Measured runs, or ``"auto"``: as many as the evidence needs, at most max_iterations."""
    warmup: int
    workflow_mode: WorkflowMode = WorkflowMode.SHARED
    context_mode: ContextMode = ContextMode.AUTO
    runner: bool = False
    timeout: float | None = None
    keep_going: bool = False
    trace_frames: int = 10
    memray_file: str | None = None
    input: dict[str, object] | None = None
    """Start-event fields for run(); None when not given (``{}`` is given)."""
    workflow_kwargs: dict[str, object] | None = None
    """Keyword arguments for the Workflow class; None when not given."""
    growth_bytes_threshold: int = 256
    """Bytes per run of retained-memory growth that count as a leak."""
    cycle_bytes_threshold: int = 65536
    """Bytes per run left to the cyclic GC that count as a CYCLE finding without framework
    objects in the cycles (with framework objects in them, any amount counts)."""
    settle_s: float = 5.0
    """Seconds the settle phase may wait for timers the runs scheduled (0: no waiting)."""
    max_iterations: int = 200
    """With ``iterations = "auto"``, the most measured runs."""
    requests: list[ServiceRequest] = field(default_factory=list)
    """For an ASGI app target: the requests sent in turn, one (or ``concurrency``) per run."""
    concurrency: int = 1
    """Requests sent at once in each run of an app target."""
    serve: bool = False
    """Serve the app with uvicorn on a loopback port and send real HTTP."""
    disconnect_after: int | None = None
    """Drop the client after this many body chunks of a streaming response."""

    @property
    def auto_iterations(self) -> bool:
        return self.iterations == AUTO_ITERATIONS

    @property
    def most_iterations(self) -> int:
        """The measured runs planned (fixed), or the cap (auto)."""
        return self.max_iterations if isinstance(self.iterations, str) else self.iterations


@dataclass(frozen=True)
class RunSample:
    """What the probes saw after one measured run (numbers only)."""

    index: int
    """1-based index of the measured run."""
    ok: bool
    duration_s: float
    error: str | None = None
    framework_created: int = 0
    """Framework objects (workflow, Context and its parts, handler, events, tasks) this run made."""
    framework_alive_before_gc: int = 0
    """Framework objects from all finished measured runs alive before any GC pass."""
    framework_alive_after_gc: int = 0
    """... and still alive after a full ``gc.collect()``: retained."""
    cycle_objects: int = 0
    """Objects found unreachable by the cyclic GC after this run."""
    cycle_bytes: int = 0
    """Bytes those objects held, freed only by the cyclic GC."""
    cycle_framework_types: dict[str, int] = field(default_factory=dict)
    gc_objects: int = 0
    """GC-tracked objects made during the measured runs and alive after a full collection."""
    traced_bytes: int = 0
    """Bytes allocated after a full collection, as the C allocator counts them (tracemalloc's
    count where it cannot); only the change from run to run means anything."""
    rss_bytes: int = 0
    pending_tasks: int = 0
    """Tasks created by the measured runs so far that are still pending."""
    live_timers: int = 0
    """Timer handles created by the measured runs so far, still scheduled, not cancelled."""
    cancelled_timers: int = 0
    """Cancelled timer handles waiting for their deadline (not leaks), counted before they
    are taken off the loop for the measurement."""
    threads: int = 0
    """Python threads alive after the run, the main thread included (0: not counted)."""


@dataclass(frozen=True)
class Trend:
    """A robust growth test over one per-run series."""

    metric: str
    unit: str
    slope: float
    """Theil-Sen slope over all measured runs, in unit per run."""
    tail_slope: float
    """Theil-Sen slope over the second half (a cache that filled and went flat has ~0)."""
    p_value: float
    """One-sided Mann-Kendall p-value for an increasing trend."""
    threshold: float
    growing: bool

    @property
    def rises_like_a_leak(self) -> bool:
        """Whether the rise is a leak's in size, over all runs and in their second half (a
        cache that filled and went flat is not), whatever its significance."""
        return rises_like_a_leak(self.slope, self.tail_slope, self.threshold)


def rises_like_a_leak(slope: float, tail_slope: float, threshold: float) -> bool:
    """The size a rise needs for a growth verdict: the threshold over all runs, half of it in
    the second half."""
    return slope >= threshold and tail_slope >= threshold / 2


@dataclass(frozen=True)
class TypeGrowth:
    type_name: str
    first: int
    last: int

    @property
    def delta(self) -> int:
        return self.last - self.first


@dataclass(frozen=True)
class Frame:
    filename: str
    lineno: int
    function: str = ""
    user: bool = False


@dataclass(frozen=True)
class AllocationSite:
    """Where memory that grew during the measured runs was allocated."""

    frame: Frame
    size_delta: int
    count_delta: int
    stack: list[Frame] = field(default_factory=list)


@dataclass(frozen=True)
class Leftover:
    """An asyncio task or timer that a run created and left behind."""

    kind: str
    description: str
    count: int
    cancelled: bool = False


@dataclass(frozen=True)
class MemrayStack:
    size: int
    allocations: int
    stack: list[Frame]


@dataclass(frozen=True)
class MemraySummary:
    """What the memray recording of the measured runs left allocated at its end.

    One recording cannot leave wfleak's own allocations out, so the bytes are split by the
    innermost frame that decides: the user's share (``user_bytes``, stacks that reach the
    user's project or the framework before any frame of wfleak), wfleak's probes
    (``own_bytes``) and the rest (``other_bytes``: no stack, or only the standard library and
    other packages). ``top_stacks`` are from the user's share only.
    """

    file: str
    leaked_bytes: int
    """Every byte still allocated when the recording ended."""
    leaked_allocations: int
    top_stacks: list[MemrayStack] = field(default_factory=list)
    flamegraph_command: str = ""
    user_bytes: int = 0
    user_allocations: int = 0
    own_bytes: int = 0
    other_bytes: int = 0


@dataclass(frozen=True)
class Node:
    """An object in a finding's subgraph, described safely (never a live reference)."""

    id: str
    type_name: str
    label: str
    size: int
    framework: bool = False
    root: bool = False
    origin: str = ""
    """Whose code the object's type is: ``framework``, ``library``, ``app``, or empty for
    the interpreter's own types (containers, frames, asyncio's handles)."""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    title: str
    summary: str
    origin: Origin = Origin.UNKNOWN
    origin_package: str = ""
    """For a framework or library finding, the installed distribution and release that holds
    the objects: ``llama-index-workflows 2.26.1``, ``aiohttp 3.14.5``."""
    origin_reason: str = ""
    """Why the owner is what it is; for ``unknown``, why it could not be determined."""
    fingerprint: str = ""
    count: int = 0
    """How many objects share this finding's path (LEAK), or runs that left the cycle (CYCLE)."""
    bytes_per_run: float = 0.0
    """Bytes this finding keeps per measured run (retained, or left to the cyclic GC)."""
    objects_per_run: float = 0.0
    """Objects this finding keeps per measured run."""
    retained_bytes: int = 0
    pattern_id: str | None = None
    explanation: str = ""
    fix: str = ""
    fix_example: str = ""
    path: list[str] = field(default_factory=list)
    """Node ids from root to leaked object (LEAK) or around the ring (CYCLE)."""
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    allocation_sites: list[Frame] = field(default_factory=list)
    fix_site: Frame | None = None
    """The line in the user's code that the fix changes (the one that keeps the objects, or
    creates them), when the analysis could find it."""
    held_by: str = ""
    """What keeps the objects, in the service's words (``app.state.handlers``, ``background
    task `watch```), when the path goes through the web layer."""
    unexplained: str = ""
    """Why a LEAK has no retention path (budget reached, not reachable from a known root, an
    error while explaining); empty when it has one."""
    also_held_by: list[str] = field(default_factory=list)
    """Fingerprints of the other findings whose paths reach the same leaked objects: each of
    them alone keeps the objects, and their memory is counted once."""

    @property
    def headline(self) -> str:
        """The title behind its pattern id: ``WFL001 A module global keeps ...``."""
        return f"{self.pattern_id} {self.title}" if self.pattern_id else self.title


@dataclass(frozen=True)
class Report:
    target: str
    environment: Environment
    settings: Settings
    verdict: Verdict
    runs: list[RunSample]
    schema_version: int = SCHEMA_VERSION
    reasons: list[Reason] = field(default_factory=list)
    """Why the evidence is incomplete: the whole story for INCONCLUSIVE, a caveat otherwise."""
    warmup_done: int = 0
    complete: bool = True
    stop: StopReason | None = None
    stop_message: str | None = None
    """Why measuring ended early (a run failed or timed out, interrupted, crashed), if it did."""
    failures: int = 0
    trends: list[Trend] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    type_growth: list[TypeGrowth] = field(default_factory=list)
    allocation_sites: list[AllocationSite] = field(default_factory=list)
    leftovers: list[Leftover] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """What weakens the whole analysis and every output shows as a warning: an engine release
    outside the range wfleak is tested on."""
    memray: MemraySummary | None = None
    runs_used: int = 0
    """Measured runs the verdict rests on (with ``iterations = "auto"``, where it stopped)."""
    decision: str | None = None
    """With ``iterations = "auto"``: why measuring stopped before the cap, if it did."""


class FailOn(StrEnum):
    """The least severe finding that fails ``wfleak check``."""

    LEAK = "leak"
    CYCLE = "cycle"


class TargetStatus(StrEnum):
    """How one checked target came out; each maps to an exit code."""

    PASSED = "passed"
    LEAKING = "leaking"
    """Leaks beyond its thresholds."""
    NOT_LOADED = "not_loaded"
    """Bad options, or the target could not be imported or used."""
    RUN_FAILED = "run_failed"
    """The workflow raised, timed out, hung or crashed."""
    INCONCLUSIVE = "inconclusive"
    """Nothing leaks beyond its thresholds, but the evidence cannot support a pass."""
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class AllowRule:
    """A known and accepted finding: matched by pattern id or by the leaked type."""

    reason: str
    pattern: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class Thresholds:
    max_retained_objects: int = 0
    """Framework objects from finished runs that may stay reachable when no finding already
    accounts for them (a bounded retention, such as the last run kept for debugging)."""
    max_growth_bytes: int = 256
    """Retained-memory growth per run that counts as a leak."""
    fail_on: FailOn = FailOn.LEAK
    allow: list[AllowRule] = field(default_factory=list)
    allow_inconclusive: bool = False
    """Pass an INCONCLUSIVE target (its reasons are still shown)."""
    baseline_tolerance: float = 0.25
    """How much a baseline finding's per-run rate may grow (0.25: +25 %) before it fails."""


@dataclass(frozen=True)
class Violation:
    """One reason a target fails the check."""

    message: str
    fingerprint: str | None = None


@dataclass(frozen=True)
class Accepted:
    """A finding that would have failed the check but is accepted."""

    fingerprint: str
    title: str
    reason: str


@dataclass(frozen=True)
class TargetResult:
    name: str
    target: str
    status: TargetStatus
    thresholds: Thresholds
    message: str = ""
    """The one line for a target that could not be checked."""
    violations: list[Violation] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    workdir: str = ""
    """Where the target was imported from; the report's file paths are relative to it."""
    duration_s: float = 0.0
    report: Report | None = None


@dataclass(frozen=True)
class CheckReport:
    """What ``wfleak check`` found for every target."""

    environment: Environment
    targets: list[TargetResult]
    config: str | None = None
    baseline: str | None = None
    schema_version: int = SCHEMA_VERSION
    kind: str = "check"
