"""The watcher: its thread turns what the hooks recorded into verdicts, metrics and findings.

A run is *retained* when one of its objects (handler, Context, and its workflow when one was
made for it) is still alive after a generation-2 collection that started after the run's
grace period; *cycle-freed* when the last of them was freed inside a collection, that is only
by the cyclic garbage collector. Each new kind of retained run (a workflow class not explained
yet), and then at most one per ``explain_rate`` seconds, is explained off the request path.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections import deque
from dataclasses import replace
from time import monotonic, perf_counter
from typing import Any

from prometheus_client import CollectorRegistry

from wfleak.live import fork as forking
from wfleak.live.analysis import Suspects, count_types
from wfleak.live.hook import RunHook
from wfleak.live.metrics import CYCLE_FREED, RETAINED, RETAINED_NOW, WATCHED, Asgi, Metrics
from wfleak.live.options import ExplainMode, WatchOptions
from wfleak.live.recorder import Event, Recorder, Role, Run, RunRef, RunState
from wfleak.live.walk import explain_by_walk
from wfleak.model import Environment, Finding, Report, Settings, Verdict
from wfleak.report.safety import terminal
from wfleak.secrets import mask_report, mask_text

logger = logging.getLogger("wfleak.watch")

TARGET = "<watched service>"
COST_BUDGET = 0.05
"""The watcher's own time (hooks, its thread, forced collections, fork pauses) may be at most
this share of wall time, over a window of ``COST_WINDOW_S``; beyond, it switches itself off."""
COST_WINDOW_S = 30.0
MAX_EVENTS = 1_000_000
"""Events waiting for the thread; more means the thread cannot keep up."""
SAMPLE_RUNS = 3
"""Retained runs whose objects one explanation looks at."""
COUNTED_RUNS = 1_000

# Plain names for the event kinds the drain compares every event with.
_STARTED, _ENDED, _DIED, _COLLECTED = Event


class Watcher:
    """Watches every workflow run of the process; made by :func:`wfleak.watch`.

    ``metrics_app`` is an ASGI app serving the metrics (mount it at ``/metrics``);
    ``report()`` returns what is known now; ``close()`` stops watching.
    """

    metrics_app: Asgi

    def __init__(
        self,
        options: WatchOptions,
        registry: CollectorRegistry | None = None,
        cost_budget: float = COST_BUDGET,
        cost_window_s: float = COST_WINDOW_S,
    ) -> None:
        self.options = options
        self._cost_budget = cost_budget
        self._cost_window_s = cost_window_s
        self._recorder = Recorder()
        self._metrics = Metrics(registry)
        self.metrics_app = self._metrics.asgi_app()
        self._hook = RunHook(self._recorder)
        self._lock = threading.Lock()
        """Guards what ``report()`` reads: findings, notes and counts."""
        self._findings: dict[str, Finding] = {}
        self._notes: list[str] = []
        self._waiting: deque[Run] = deque()
        self._waiting_count = 0
        self._retained: dict[int, Run] = {}
        self._settling: dict[Run, None] = {}
        """Runs found freed, decided at the next tick (a dict: ordered, and a cheap test)."""
        self._in_flight: set[Run] = set()
        self._explained_labels: set[str] = set()
        self._pending_labels: set[str] = set()
        self._last_explained = -float("inf")
        self._explainer: threading.Thread | None = None
        self._last_forced = -float("inf")
        self._thread_cost = 0.0
        self._window = (monotonic(), 0.0)
        self._stop = threading.Event()
        self._closed = False
        self.switched_off: str | None = None
        self.started_at = time.time()
        self._environment: Environment | None = None
        if options.explain is not ExplainMode.OFF:
            from wfleak.live.analysis import warm_up

            warm_up()
        self._hook.install()
        if not self._hook.engines:
            logger.warning("wfleak: no workflow engine is importable; there are no runs to watch")
        gc.callbacks.append(self._recorder.on_collection)
        self._thread = threading.Thread(target=self._loop, name="wfleak-watch", daemon=True)
        self._thread.start()
        self._endpoint: Any = None
        if options.endpoint is not None and options.token is not None:
            from wfleak.live.endpoint import ReportServer

            self._endpoint = ReportServer(options.endpoint, options.token, self.report)
        logger.info(
            "wfleak: watching workflow runs (grace %gs, explain %s)",
            options.grace,
            options.explain.value,
        )

    # -- public ----------------------------------------------------------------------------
    @property
    def endpoint_address(self) -> tuple[str, int] | None:
        """Where the report endpoint listens (its port, when 0 was asked), if it is on."""
        return None if self._endpoint is None else self._endpoint.address

    @property
    def pending(self) -> int:
        """Runs (and events about them) not judged yet: in flight, or waiting for their
        grace period and a full collection; 0 once every run seen so far is decided."""
        return (
            len(self._recorder.events)
            + len(self._in_flight)
            + self._waiting_count
            + len(self._settling)
        )

    @property
    def running(self) -> bool:
        return not self._closed and self.switched_off is None

    def counts(self) -> dict[str, dict[str, int]]:
        """Every metric's value per ``workflow`` label, as exported."""
        with self._lock:
            return {name: dict(values) for name, values in self._metrics.counts.items()}

    def close(self) -> None:
        """Stop watching: unhook, stop the thread, unregister the metrics. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._unhook()
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self._endpoint is not None:
            self._endpoint.close()
        self._metrics.close()
        from wfleak.live import api

        api.forget(self)

    def report(self) -> Report:
        """What is known now; an explanation in flight is not waited for."""
        from wfleak.model import WorkflowMode

        with self._lock:
            findings = sorted(
                self._findings.values(), key=lambda f: -(f.retained_bytes * max(f.count, 1))
            )
            counts = {name: dict(values) for name, values in self._metrics.counts.items()}
            notes = list(self._notes)
            in_flight = len(self._in_flight)
        totals = {name: sum(values.values()) for name, values in counts.items()}
        verdict = Verdict.LEAK if totals[RETAINED] else Verdict.OK
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started_at))
        lines = [
            f"watched {totals[WATCHED]} runs since {since}: "
            f"{totals[RETAINED]} retained ({totals[RETAINED_NOW]} still alive), "
            f"{totals[CYCLE_FREED]} freed only by the cyclic GC, {in_flight} in flight",
        ]
        for label in sorted(counts[WATCHED]):
            lines.append(
                f"{label}: {counts[WATCHED].get(label, 0)} watched, "
                f"{counts[RETAINED].get(label, 0)} retained, "
                f"{counts[CYCLE_FREED].get(label, 0)} cycle-freed"
            )
        if totals[RETAINED] and not findings:
            lines.append(
                "retained runs not explained yet"
                + (" (explanations are off)" if self.options.explain is ExplainMode.OFF else "")
            )
        if self.switched_off:
            lines.append(f"switched off: {self.switched_off}")
        options = self.options
        settings = Settings(
            target=TARGET,
            iterations=totals[WATCHED],
            warmup=0,
            workflow_mode=WorkflowMode.SHARED,
            timeout=None,
            input={
                "grace": options.grace,
                "collect_every": options.collect_every,
                "explain": options.explain.value,
                "explain_rate": options.explain_rate,
            },
        )
        return Report(
            target=TARGET,
            environment=self._env(),
            settings=settings,
            verdict=verdict,
            runs=[],
            complete=False,
            findings=findings,
            notes=lines + notes,
        )

    # -- the thread ------------------------------------------------------------------------
    def _env(self) -> Environment:
        if self._environment is None:
            from wfleak.pipeline import environment

            self._environment = environment()
        return self._environment

    def _tick(self) -> float:
        grace = self.options.grace
        every = self.options.collect_every or grace
        return min(max(min(grace, every) / 4, 0.01), 0.5)

    def _loop(self) -> None:
        tick = self._tick()
        while not self._stop.wait(tick):
            started = perf_counter()
            ready, self._settling = list(self._settling), {}
            try:
                self._drain()
                self._settle_pending(ready)
                self._poll_in_flight()
                if self._force_collection():
                    self._drain()
                self._maybe_explain_pending()
            except Exception:
                logger.exception("wfleak: the watcher failed")
                self._switch_off("the watcher itself failed (see the traceback above)")
            self._thread_cost += perf_counter() - started
            self._check_cost()

    def _drain(self) -> None:
        events = self._recorder.events
        if len(events) > MAX_EVENTS:
            self._switch_off(f"more than {MAX_EVENTS} events waiting: the watcher cannot keep up")
            return
        # Counted per label once per drain: a metric update takes locks, a run should not.
        started: dict[str, int] = {}
        while events:
            event = events.popleft()
            kind = event[0]
            if kind is _STARTED:
                run: Run = event[1]
                self._in_flight.add(run)
                started[run.label] = started.get(run.label, 0) + 1
            elif kind is _ENDED:
                run = event[1]
                if run.state is RunState.IN_FLIGHT:
                    self._ended(run)
            elif kind is _DIED:
                self._died(event[1], event[2])
            elif kind is _COLLECTED:
                self._add_started(started)
                self._judge(event[1])
        self._add_started(started)
        if len(self._waiting) > 1000 and len(self._waiting) > 2 * self._waiting_count:
            self._waiting = deque(r for r in self._waiting if r.state is RunState.WAITING)

    def _ended(self, run: Run) -> None:
        run.state = RunState.WAITING
        self._in_flight.discard(run)
        self._waiting.append(run)
        self._waiting_count += 1

    def _poll_in_flight(self) -> None:
        """Runs whose future is done end now (at most one tick late: the grace absorbs it)."""
        now = monotonic()
        for run in [r for r in self._in_flight if r.finished()]:
            run.ended_at = now
            self._ended(run)

    def _add_started(self, started: dict[str, int]) -> None:
        for label, runs in started.items():
            self._add(WATCHED, label, runs)
        started.clear()

    def _add(self, name: str, label: str, amount: int = 1) -> None:
        with self._lock:
            self._metrics.add(name, label, amount)

    def _died(self, ref: RunRef, in_collection: bool) -> None:
        run = ref.run
        if ref.role is Role.WORKFLOW:
            per_run = self._recorder.per_run_workflows
            if per_run.get(run.workflow_id) is run:
                per_run.pop(run.workflow_id, None)
        if run.state is RunState.FREED:
            return
        if in_collection:
            run.cycle = True
        # A run's objects usually die together: once one death found them all gone, the
        # others' events need not look again.
        if run not in self._settling and not run.alive():
            self._settle(run)

    def _settle(self, run: Run) -> None:
        """Freed, decided at the next tick: a collection clears every weak reference to its
        garbage before it runs their callbacks, so the other objects' deaths (and whether the
        collector freed them) may still be on their way."""
        self._settling[run] = None

    def _settle_pending(self, ready: list[Run]) -> None:
        for run in ready:
            if run.state is not RunState.FREED and not run.alive():
                self._freed(run)

    def _freed(self, run: Run) -> None:
        previous = run.state
        run.state = RunState.FREED
        run.refs = []
        if previous is RunState.IN_FLIGHT:
            self._in_flight.discard(run)
        elif previous is RunState.WAITING:
            self._waiting_count -= 1
        if previous is RunState.RETAINED:
            self._retained.pop(id(run), None)
            self._add(RETAINED_NOW, run.label, -1)
        elif run.cycle:
            self._add(CYCLE_FREED, run.label)

    def _judge(self, collection_started: float) -> None:
        """A full collection finished: runs whose grace ended before it began are judged."""
        grace = self.options.grace
        waiting = self._waiting
        while waiting and (
            waiting[0].state is not RunState.WAITING
            or waiting[0].ended_at + grace <= collection_started
        ):
            run = waiting.popleft()
            if run.state is not RunState.WAITING:
                continue
            if run in self._settling:
                continue
            if run.alive():
                run.state = RunState.RETAINED
                self._waiting_count -= 1
                self._retained[id(run)] = run
                self._add(RETAINED, run.label)
                self._add(RETAINED_NOW, run.label)
                self._want_explanation(run.label)
            else:
                self._settle(run)

    def _force_collection(self) -> bool:
        every = self.options.collect_every
        if every is None or not self._waiting:
            return False
        now = monotonic()
        if now - self._last_forced < every:
            return False
        first = next((r for r in self._waiting if r.state is RunState.WAITING), None)
        if first is None or first.ended_at + self.options.grace > now:
            return False
        self._last_forced = now
        gc.collect()
        return True

    # -- explanations ----------------------------------------------------------------------
    def _want_explanation(self, label: str) -> None:
        if self.options.explain is ExplainMode.OFF:
            return
        self._pending_labels.add(label)
        self._maybe_explain_pending()

    def _maybe_explain_pending(self) -> None:
        if not self._pending_labels or self.switched_off or self._closed:
            return
        if self._explainer is not None and self._explainer.is_alive():
            return
        now = monotonic()
        fresh = [
            label for label in sorted(self._pending_labels) if label not in self._explained_labels
        ]
        if fresh:
            label = fresh[0]
        elif now - self._last_explained >= self.options.explain_rate:
            label = sorted(self._pending_labels)[0]
        else:
            return
        self._pending_labels.discard(label)
        suspects = self._suspects(label)
        if suspects is None:
            return
        self._explained_labels.add(label)
        self._last_explained = now
        self._explainer = threading.Thread(
            target=self._explain, args=(suspects,), name="wfleak-explain", daemon=True
        )
        del suspects
        self._explainer.start()

    def _suspects(self, label: str) -> Suspects | None:
        runs = [r for r in self._retained.values() if r.label == label][-COUNTED_RUNS:]
        leaked: list[Any] = []
        counted: list[Any] = []
        for k, run in enumerate(reversed(runs)):
            alive = run.alive()
            counted.extend(alive)
            if k < SAMPLE_RUNS:
                leaked.extend(alive)
        counts = count_types(counted)
        counted.clear()
        if not leaked:
            return None
        shared = [
            w for ref in list(self._recorder.shared_workflows.values()) if (w := ref()) is not None
        ]
        return Suspects(label, leaked, counts, shared)

    def _explain(self, suspects: Suspects) -> None:
        label = suspects.label
        try:
            findings, note = self._run_explanation(suspects)
        except Exception as exc:
            logger.exception("wfleak: explaining retained runs of %s failed", label)
            findings, note = [], f"explaining retained runs of {label} failed: {exc}"
        finally:
            suspects.leaked.clear()
            suspects.shared_workflows.clear()
        del suspects
        for finding in findings:
            self._keep(label, mask_report(finding))
        if note:
            # Last, so a note says the explanation is over and its findings are all kept; an
            # error from the analysis may quote the heap's texts.
            with self._lock:
                self._notes.append(mask_text(note))

    def _run_explanation(self, suspects: Suspects) -> tuple[list[Finding], str | None]:
        label = suspects.label
        mode = self.options.explain
        use_fork = mode in (ExplainMode.AUTO, ExplainMode.FORK) and forking.supported()
        if use_fork:
            room = forking.headroom()
            if not room.enough:
                logger.warning(
                    "wfleak: not forking to explain retained runs of %s: %d MiB of memory left, "
                    "the copy may need %d MiB; walking the heap from a thread instead",
                    label,
                    (room.available or 0) >> 20,
                    room.needed >> 20,
                )
                use_fork = False
        if use_fork:
            result = forking.explain_in_fork(suspects)
            suspects.leaked.clear()
            suspects.shared_workflows.clear()
            self._thread_cost += result.pause_s
            if result.error is not None:
                logger.warning("wfleak: explaining retained runs of %s: %s", label, result.error)
                return (
                    [],
                    f"explaining retained runs of {label} in a forked copy failed: {result.error}",
                )
            findings = [
                replace(f, explanation=f"{f.explanation} {forking.OTHER_THREADS_NOTE}".strip())
                for f in result.findings
            ]
            return findings, (
                f"retained runs of {label} explained in a forked copy in {result.duration_s:.1f} s "
                f"(the service paused {result.pause_s * 1000:.0f} ms for the fork)"
            )
        walked = explain_by_walk(suspects)
        self._thread_cost += walked.longest_pause_s * walked.scans
        note = (
            f"retained runs of {label} explained by a walk of the live heap "
            f"({walked.scans} scans, longest pause {walked.longest_pause_s * 1000:.0f} ms)"
        )
        if walked.cut:
            note += f"; the walk was cut: {walked.cut}"
        return walked.findings, note

    def _keep(self, label: str, finding: Finding) -> None:
        with self._lock:
            new = finding.fingerprint not in self._findings
            self._findings[finding.fingerprint] = finding
        if new:
            # One line whatever the heap's texts hold: a newline in a key must not forge a
            # record of its own in the service's log.
            logger.warning(
                "wfleak: retained runs of %s: %s",
                terminal(label),
                terminal(finding.summary),
                extra={
                    "wfleak": {
                        "event": "finding",
                        "workflow": label,
                        "kind": finding.kind.value,
                        "pattern_id": finding.pattern_id,
                        "title": finding.title,
                        "summary": finding.summary,
                        "origin": finding.origin.value,
                        "fingerprint": finding.fingerprint,
                        "count": finding.count,
                        "retained_bytes": finding.retained_bytes,
                        "fix": finding.fix,
                    }
                },
            )

    # -- cost ------------------------------------------------------------------------------
    def _check_cost(self) -> None:
        now = monotonic()
        started, cost_then = self._window
        elapsed = now - started
        if elapsed < self._cost_window_s:
            return
        cost = self._recorder.cost_s + self._thread_cost
        share = (cost - cost_then) / elapsed
        self._window = (now, cost)
        if share > self._cost_budget:
            self._switch_off(
                f"its own cost was {share:.1%} of the last {elapsed:.0f} s, over the budget "
                f"of {self._cost_budget:.0%}"
            )

    def _unhook(self) -> None:
        self._recorder.enabled = False
        self._hook.remove()
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._recorder.on_collection)

    def _switch_off(self, reason: str) -> None:
        if self.switched_off is not None:
            return
        self._unhook()
        self._stop.set()
        # Set last: whoever sees it may rely on the hooks being gone.
        self.switched_off = reason
        logger.warning(
            "wfleak: watching switched off: %s; the metrics keep their last values", reason
        )
