"""Every option of wfleak, declared once.

Each :class:`Option` below is the single source of its name, type, default, range, help and
where it appears. From these declarations come:

- the typer options of ``run``, ``graph`` and ``check`` (:mod:`wfleak.commands.signature`
  builds each command's signature; ``--max-time`` from ``max_time``);
- the ``[tool.wfleak]`` keys and their validation (:mod:`wfleak.config`; ``max-time``);
- the keyword arguments of :func:`wfleak.analyze`, :func:`wfleak.api.make_settings` and the
  ``wfleak_check`` fixture and marker (checked by :func:`from_python`, typed in the generated
  :mod:`wfleak.options.typed`);
- ``--wfleak-NAME`` pytest options (:mod:`wfleak.pytest_plugin`);
- the JSON Schema of ``[tool.wfleak]`` shipped as ``wfleak/schema/tool-wfleak.json``.

A value is checked by its :mod:`kind <wfleak.options.kinds>` wherever it comes from, so each
problem has one message; each surface only says where the value was given.

Adding an option
----------------
1. Declare it here, in the group it belongs to::

       SETTLE = declare(Option(
           "settle", Seconds(), 0.5, "Seconds to wait after each run before measuring.",
           commands=ANALYSIS, config=True, setting="settle_s", fixture=True,
       ))

   ``commands`` lists the commands that take ``--settle``; ``config`` makes it a
   ``[tool.wfleak]`` key (defaults and per target; ``wfleak check`` resolves command line >
   target > top level > default); ``setting`` names the :class:`wfleak.model.Settings` field
   that :func:`wfleak.api.make_settings` fills, which makes it a keyword of
   :func:`wfleak.analyze` too (``api=True`` does that for an option that is not a setting);
   ``fixture`` makes it a keyword of ``wfleak_check`` and ``@pytest.mark.wfleak``;
   ``pytest_option`` adds ``--wfleak-settle`` to pytest. A new kind of value is a new
   :class:`~wfleak.options.kinds.Kind`.
2. Read it where it acts: a setting from ``settings.settle_s``; a command-only option from
   ``given[SETTLE]`` in the command (see :mod:`wfleak.commands.run`).
3. Run ``python -m wfleak.options.generate`` to rewrite the JSON Schema and the typed keyword
   arguments; ``tests/unit/test_options.py`` fails until they are current.
4. Name it in the README (``tests/unit/test_docs.py`` checks every flag and key).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from wfleak.errors import UsageError
from wfleak.model import AllowRule, ContextMode, FailOn, ServiceRequest, WorkflowMode
from wfleak.options.kinds import (
    AllowRules,
    Choice,
    Count,
    CountOrAuto,
    Fields,
    Flag,
    InputPath,
    Invalid,
    Kind,
    OutputPath,
    Requests,
    Seconds,
    Share,
    Text,
)

T = TypeVar("T")

ANALYSIS = frozenset({"run", "graph", "check"})
"""The commands that run an analysis."""
COMMANDS = ("run", "graph", "check")


@dataclass(frozen=True, eq=False)
class Option(Generic[T]):
    """One option, wherever it is given."""

    name: str
    """The keyword argument; the flag and the configuration key are derived from it."""
    kind: Kind[Any]
    default: T
    """The value when none is given; ``None`` for "no value" (no limit, no file)."""
    help: str
    commands: frozenset[str] = frozenset()
    config: bool = False
    setting: str | None = None
    """The :class:`wfleak.model.Settings` field this option fills; implies ``api``."""
    api: bool = False
    fixture: bool = False
    pytest_option: bool = False
    short: str | None = None
    flag_name: str | None = None
    """The flag when it is not ``--`` plus the key (``--from`` for ``from_report``)."""
    metavar: str | None = None
    to_setting: Callable[[Any], object] | None = field(default=None, repr=False)
    """Turns the checked value into the setting (a path made absolute for the worker)."""

    @property
    def key(self) -> str:
        """The ``[tool.wfleak]`` key: ``max-time`` for ``max_time``."""
        return self.name.replace("_", "-")

    @property
    def flag(self) -> str:
        return self.flag_name or f"--{self.key}"

    @property
    def flags(self) -> tuple[str, ...]:
        return (self.flag, self.short) if self.short else (self.flag,)

    @property
    def in_api(self) -> bool:
        return self.api or self.setting is not None

    @property
    def negatable(self) -> bool:
        """A flag that the configuration may turn on gets ``--no-NAME`` to turn it off."""
        return isinstance(self.kind, Flag) and self.config

    def check(self, value: object) -> T:
        """``value`` checked and normalised; ``None`` stands for the default when that is
        ``None``. Raises :class:`~wfleak.options.kinds.Invalid`."""
        if value is None and self.default is None:
            return self.default
        checked: T = self.kind.check(value)
        return checked


OPTIONS: list[Option[Any]] = []


RESERVED = ("target", "invocation")
"""Parameter names of every command besides its options."""


def declare(option: Option[T]) -> Option[T]:
    if option.name in RESERVED:
        raise ValueError(f"option name {option.name} is reserved")
    if any(known.name == option.name or known.flag == option.flag for known in OPTIONS):
        raise ValueError(f"option {option.name} is declared twice")
    OPTIONS.append(option)
    return option


class DiagramFormat(StrEnum):
    DOT = "dot"
    SVG = "svg"
    PNG = "png"
    MERMAID = "mermaid"
    HTML = "html"


# What is run, and how: every analysing command, [tool.wfleak], the API and the fixture.
ITERATIONS = declare(
    Option(
        "iterations",
        CountOrAuto(1),
        50,
        "Measured runs, or 'auto': stop as soon as the evidence decides (at most "
        "--max-iterations).",
        commands=ANALYSIS,
        config=True,
        setting="iterations",
        fixture=True,
        pytest_option=True,
        short="-n",
        metavar="N",
    )
)
MAX_ITERATIONS = declare(
    Option(
        "max_iterations",
        Count(6),
        200,
        "With --iterations auto, the most measured runs.",
        commands=ANALYSIS,
        config=True,
        setting="max_iterations",
        fixture=True,
        metavar="N",
    )
)
WARMUP = declare(
    Option(
        "warmup",
        Count(0),
        3,
        "Unmeasured runs first, so caches can fill.",
        commands=ANALYSIS,
        config=True,
        setting="warmup",
        fixture=True,
        metavar="N",
    )
)
WORKFLOW = declare(
    Option(
        "workflow",
        Choice(WorkflowMode),
        WorkflowMode.SHARED,
        "shared: one workflow instance for all runs (how services run them); fresh: a new "
        "one per run.",
        commands=ANALYSIS,
        config=True,
        setting="workflow_mode",
        fixture=True,
    )
)
CONTEXT = declare(
    Option(
        "context",
        Choice(ContextMode),
        ContextMode.AUTO,
        "auto: run() creates the Context; new: pass a fresh Context(wf) per run; reuse: "
        "carry one Context across runs.",
        commands=ANALYSIS,
        config=True,
        setting="context_mode",
        fixture=True,
    )
)
RUNNER = declare(
    Option(
        "runner",
        Flag(),
        False,
        "The target is a zero-argument async function that performs one complete run.",
        commands=ANALYSIS,
        config=True,
        setting="runner",
        fixture=True,
    )
)
WORKFLOW_KWARGS: Option[dict[str, object] | None] = declare(
    Option(
        "workflow_kwargs",
        Fields(),
        None,
        "Keyword arguments for the Workflow class (a JSON object on the command line).",
        commands=ANALYSIS,
        config=True,
        setting="workflow_kwargs",
        fixture=True,
        metavar="JSON",
        to_setting=lambda value: None if value is None else dict(value),
    )
)
INPUT: Option[dict[str, object] | None] = declare(
    Option(
        "input",
        Fields(),
        None,
        "Start-event fields for run() (a JSON object on the command line).",
        commands=ANALYSIS,
        config=True,
        setting="input",
        fixture=True,
        metavar="JSON",
        to_setting=lambda value: None if value is None else dict(value),
    )
)
INPUT_FILE: Option[Any] = declare(
    Option(
        "input_file",
        InputPath(),
        None,
        "Read the start-event fields from a JSON file (in [tool.wfleak], relative to it).",
        commands=ANALYSIS,
        config=True,
        metavar="FILE",
    )
)
TIMEOUT = declare(
    Option(
        "timeout",
        Seconds(),
        60.0,
        "Seconds one run may take before it counts as failed.",
        commands=ANALYSIS,
        config=True,
        setting="timeout",
        fixture=True,
        metavar="S",
    )
)
KEEP_GOING = declare(
    Option(
        "keep_going",
        Flag(),
        False,
        "Count failed runs and keep measuring (error paths leak too).",
        commands=ANALYSIS,
        config=True,
        setting="keep_going",
        fixture=True,
    )
)
MAX_TIME: Option[float | None] = declare(
    Option(
        "max_time",
        Seconds(),
        None,
        "Hard wall-clock limit in seconds for the whole analysis (for check, of each target).",
        commands=ANALYSIS,
        config=True,
        api=True,
        fixture=True,
        metavar="S",
    )
)
MEMRAY: Option[str | None] = declare(
    Option(
        "memray",
        OutputPath(),
        None,
        "Also record the measured runs with memray into this file.",
        commands=frozenset({"run"}),
        setting="memray_file",
        metavar="FILE",
        to_setting=lambda value: os.path.abspath(value) if value else None,
    )
)
FORCE = declare(
    Option(
        "force",
        Flag(),
        False,
        "Overwrite the --memray file if it exists.",
        commands=frozenset({"run"}),
    )
)
SHOW_SECRETS = declare(
    Option(
        "show_secrets",
        Flag(),
        False,
        "Show strings that look like credentials (API keys, tokens, passwords) as they are; "
        "by default they are masked as *** in every output.",
        commands=ANALYSIS,
        api=True,
    )
)
TRACE_FRAMES = declare(
    Option(
        "trace_frames",
        Count(1),
        10,
        "Frames tracemalloc keeps in the runs traced after a leak is found.",
        commands=ANALYSIS,
        config=True,
        setting="trace_frames",
        fixture=True,
        metavar="N",
    )
)

QUIET = declare(
    Option(
        "quiet",
        Flag(),
        False,
        "No progress: neither the bar in a terminal nor the progress lines in a log.",
        commands=ANALYSIS,
        short="-q",
    )
)
VERBOSE = declare(
    Option(
        "verbose",
        Flag(),
        False,
        "Also print a line as each phase of the analysis ends, with the time it took.",
        commands=ANALYSIS,
        short="-v",
    )
)
SETTLE = declare(
    Option(
        "settle",
        Seconds(zero=True),
        5.0,
        "After the measured runs, wait up to this many seconds for timers the runs scheduled "
        "(a pool's clean-up timer) to fire before judging; 0 turns it off.",
        commands=ANALYSIS,
        config=True,
        setting="settle_s",
        fixture=True,
        metavar="S",
    )
)

# Services: what is sent to an ASGI app target, and how.
REQUESTS: Option[list[ServiceRequest] | None] = declare(
    Option(
        "requests",
        Requests(),
        None,
        "For an ASGI app target: a request to send, 'METHOD PATH [JSON]', e.g. "
        '\'POST /ask {"q": "hi"}\' (repeatable; sent in turn, one per run).',
        commands=ANALYSIS,
        config=True,
        setting="requests",
        fixture=True,
        flag_name="--request",
        metavar="'METHOD PATH [JSON]'",
        to_setting=lambda value: list(value or []),
    )
)
REQUESTS_FILE: Option[Any] = declare(
    Option(
        "requests_file",
        InputPath(),
        None,
        "JSON lines of requests (method, path, headers, json or body, expect), sent after "
        "those of --request (in [tool.wfleak], relative to it).",
        commands=ANALYSIS,
        config=True,
        flag_name="--requests",
        metavar="FILE",
    )
)
CONCURRENCY = declare(
    Option(
        "concurrency",
        Count(1),
        1,
        "Requests sent at once in each run (app targets): leaks through shared state often "
        "show only when requests overlap.",
        commands=ANALYSIS,
        config=True,
        setting="concurrency",
        fixture=True,
        metavar="K",
    )
)
SERVE = declare(
    Option(
        "serve",
        Flag(),
        False,
        "Serve the app with uvicorn on a loopback port and send real HTTP, instead of "
        "calling its ASGI interface directly.",
        commands=ANALYSIS,
        config=True,
        setting="serve",
        fixture=True,
    )
)
DISCONNECT_AFTER: Option[int | None] = declare(
    Option(
        "disconnect_after",
        Count(1),
        None,
        "Drop the client after N chunks of a streaming response, as impatient clients do.",
        commands=ANALYSIS,
        config=True,
        setting="disconnect_after",
        fixture=True,
        metavar="N",
    )
)

# What fails a check: wfleak check, [tool.wfleak] and the fixture.
MAX_GROWTH_BYTES = declare(
    Option(
        "max_growth_bytes",
        Count(1),
        256,
        "Retained-memory growth per run, in bytes, that counts as a leak.",
        commands=frozenset({"check"}),
        config=True,
        setting="growth_bytes_threshold",
        fixture=True,
        metavar="B",
    )
)
MAX_RETAINED_OBJECTS = declare(
    Option(
        "max_retained_objects",
        Count(0),
        0,
        "Framework objects from finished runs allowed to stay reachable when no finding "
        "accounts for them (say, the last run kept on purpose).",
        commands=frozenset({"check"}),
        config=True,
        fixture=True,
        metavar="N",
    )
)
FAIL_ON = declare(
    Option(
        "fail_on",
        Choice(FailOn),
        FailOn.LEAK,
        "leak: only LEAK findings fail; cycle: CYCLE findings (memory left to the cyclic GC) "
        "fail too.",
        commands=frozenset({"check"}),
        config=True,
        fixture=True,
    )
)
ALLOW: Option[list[AllowRule] | None] = declare(
    Option(
        "allow",
        AllowRules(),
        None,
        "Known and accepted findings, by pattern id (WFL106) or by the leaked type "
        "(Context); the reason is required. Rules at the top level and in a target add up.",
        config=True,
        fixture=True,
    )
)
ALLOW_INCONCLUSIVE = declare(
    Option(
        "allow_inconclusive",
        Flag(),
        False,
        "Pass a target whose verdict is INCONCLUSIVE (too few runs, a failed probe, "
        "--max-time reached); its reasons are still shown.",
        commands=frozenset({"check"}),
        config=True,
        fixture=True,
    )
)
BASELINE_TOLERANCE = declare(
    Option(
        "baseline_tolerance",
        Share(),
        0.25,
        "How much faster than in the --baseline a known finding may grow (objects and bytes "
        "per run) before it fails: 0.25 is +25 %, with a floor of max-growth-bytes per run.",
        commands=frozenset({"check"}),
        config=True,
        metavar="F",
    )
)

JOBS: Option[int | str] = declare(
    Option(
        "jobs",
        CountOrAuto(1),
        1,
        "Targets checked at once, each in its own worker process ('auto': one per core). "
        "Output and exit code stay in configuration order.",
        commands=frozenset({"check"}),
        short="-j",
        metavar="N",
    )
)

# Where results go, and what to read: one command each.
JSON: Option[str | None] = declare(
    Option(
        "json",
        OutputPath(),
        None,
        "Write the full report as JSON to this file ('-': stdout, and the human report "
        "moves to stderr).",
        commands=frozenset({"run", "check"}),
        metavar="PATH",
    )
)
CONFIG_FILE: Option[Any] = declare(
    Option(
        "config_file",
        InputPath(),
        None,
        "Read [tool.wfleak] from this TOML file instead of the nearest pyproject.toml.",
        commands=frozenset({"check"}),
        flag_name="--config",
        metavar="FILE",
    )
)
BASELINE: Option[Any] = declare(
    Option(
        "baseline",
        InputPath(),
        None,
        "A saved 'check --json' (or 'run --json') result: fail only on findings it does not have.",
        commands=frozenset({"check"}),
        metavar="REPORT.json",
    )
)
JUNIT_XML: Option[str | None] = declare(
    Option(
        "junit_xml",
        OutputPath(),
        None,
        "Write JUnit XML, a test per target.",
        commands=frozenset({"check"}),
        metavar="PATH",
    )
)
GITHUB = declare(
    Option(
        "github",
        Flag(),
        False,
        "Print GitHub Actions annotations at the leaking lines and append a Markdown summary "
        "with the top finding's diagram to $GITHUB_STEP_SUMMARY.",
        commands=frozenset({"check"}),
    )
)
OUTPUT = declare(
    Option(
        "output",
        OutputPath(),
        "wfleak.svg",
        "Where to write the diagram ('-': stdout).",
        commands=frozenset({"graph"}),
        short="-o",
        metavar="FILE",
    )
)
FORMAT: Option[DiagramFormat | None] = declare(
    Option(
        "format",
        Choice(DiagramFormat),
        None,
        "dot (Graphviz source), svg or png (need Graphviz's dot), mermaid (renders in "
        "GitHub/GitLab Markdown), html (one offline page). Default: from the output suffix.",
        commands=frozenset({"graph"}),
    )
)
FROM_REPORT: Option[Any] = declare(
    Option(
        "from_report",
        InputPath(),
        None,
        "Draw a saved report ('run --json' or 'check --json') instead of running an analysis.",
        commands=frozenset({"graph"}),
        flag_name="--from",
        metavar="REPORT.json",
    )
)
CHECK_TARGET: Option[str | None] = declare(
    Option(
        "check_target",
        Text(),
        None,
        "With --from a 'check --json' result: the configured target to draw, by name.",
        commands=frozenset({"graph"}),
        flag_name="--target",
        metavar="NAME",
    )
)
FINDING: Option[str | None] = declare(
    Option(
        "finding",
        Text(),
        None,
        "Draw one finding: its number, pattern id (WFL001) or fingerprint.",
        commands=frozenset({"graph"}),
        metavar="ID",
    )
)
DEPTH: Option[int | None] = declare(
    Option(
        "depth",
        Count(1),
        None,
        "Draw at most this many references back from the leaked object.",
        commands=frozenset({"graph"}),
        metavar="N",
    )
)
MAX_NODES: Option[int | None] = declare(
    Option(
        "max_nodes",
        Count(1),
        None,
        "Draw at most this many objects in all.",
        commands=frozenset({"graph"}),
        metavar="N",
    )
)

EXCLUSIVE: tuple[tuple[Option[Any], Option[Any]], ...] = ((INPUT, INPUT_FILE), (QUIET, VERBOSE))
"""Pairs of options that cannot both be given."""


def for_command(command: str) -> list[Option[Any]]:
    return [option for option in OPTIONS if command in option.commands]


def config_options() -> list[Option[Any]]:
    return [option for option in OPTIONS if option.config]


def api_options() -> list[Option[Any]]:
    return [option for option in OPTIONS if option.in_api]


def setting_options() -> list[Option[Any]]:
    return [option for option in OPTIONS if option.setting is not None]


def fixture_options() -> list[Option[Any]]:
    return [option for option in OPTIONS if option.fixture]


def by_name(name: str) -> Option[Any]:
    return next(option for option in OPTIONS if option.name == name)


def exclusive_problem(given: Iterable[Option[Any]], spell: Callable[[Option[Any]], str]) -> str:
    """The message for the first pair of ``given`` options that exclude each other, or ''."""
    present = set(given)
    for first, second in EXCLUSIVE:
        if first in present and second in present:
            return f"give {spell(first)} or {spell(second)}, not both"
    return ""


def unknown_name(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown option '{name}'{hint}"


def from_python(given: Mapping[str, object], allowed: Sequence[Option[Any]]) -> dict[str, Any]:
    """Keyword arguments checked by their options, by name; only those given.

    Every problem is one :class:`~wfleak.errors.UsageError` that names the keyword.
    """
    known = {option.name: option for option in allowed}
    checked: dict[str, Any] = {}
    for name, value in given.items():
        option = known.get(name)
        if option is None:
            raise UsageError(unknown_name(name, list(known)))
        try:
            checked[name] = option.check(value)
        except Invalid as exc:
            raise UsageError(f"{name}{exc.at}: {exc.message}") from None
    problem = exclusive_problem((known[name] for name in checked), lambda o: o.name)
    if problem:
        raise UsageError(problem)
    return checked


def settings_fields(checked: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`~wfleak.model.Settings` fields from checked values (defaults filled in)."""
    fields: dict[str, Any] = {}
    for option in setting_options():
        assert option.setting is not None
        value = checked.get(option.name, option.default)
        fields[option.setting] = option.to_setting(value) if option.to_setting else value
    return fields
