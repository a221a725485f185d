"""The keyword arguments of the Python API and the pytest fixture, typed.

Generated from :mod:`wfleak.options` by ``python -m wfleak.options.generate``; do not
edit. The checks, defaults and help are in :mod:`wfleak.options`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TypedDict

from wfleak.model import AllowRule, ContextMode, FailOn, ServiceRequest, WorkflowMode


class SettingsOptions(TypedDict, total=False):
    """Keyword arguments of :func:`wfleak.api.make_settings`."""

    iterations: int | str
    max_iterations: int
    warmup: int
    workflow: WorkflowMode | str
    context: ContextMode | str
    runner: bool
    workflow_kwargs: Mapping[str, object] | None
    input: Mapping[str, object] | None
    timeout: float
    keep_going: bool
    memray: str | os.PathLike[str] | None
    trace_frames: int
    settle: float
    requests: Sequence[ServiceRequest | str | Mapping[str, object]] | None
    concurrency: int
    serve: bool
    disconnect_after: int | None
    max_growth_bytes: int


class AnalyzeOptions(SettingsOptions, total=False):
    """Keyword arguments of :func:`wfleak.analyze`."""

    max_time: float | None
    show_secrets: bool


class CheckOptions(AnalyzeOptions, total=False):
    """Keyword arguments of the ``wfleak_check`` fixture and ``@pytest.mark.wfleak``."""

    max_retained_objects: int
    fail_on: FailOn | str
    allow: Sequence[AllowRule] | None
    allow_inconclusive: bool
