"""The public Python API: one call runs the whole analysis and returns the report.

The command line is built on these functions; so are the pytest plugin and ``wfleak check``.
Problems with the arguments or the target raise :class:`wfleak.errors.WfleakError` (its
``exit_code`` says which kind); a workflow that fails or times out is not an exception but a
report with ``stop`` set, so what was measured before is never lost.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Unpack, cast

from wfleak import options
from wfleak.errors import UsageError, WfleakError
from wfleak.isolation import analyze_in_worker
from wfleak.model import Report, Settings
from wfleak.options.typed import AnalyzeOptions, SettingsOptions
from wfleak.pipeline import Progress
from wfleak.secrets import mask_report, mask_text
from wfleak.target import check_target_string

__all__ = ["AnalyzeOptions", "SettingsOptions", "analyze", "make_settings", "run_analysis"]


def target_string(target: str | Callable[..., Any] | type) -> str:
    """``'module:attr'`` for a class or function, so the worker process can import it."""
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    if not module or not qualname or "<locals>" in qualname or module == "__main__":
        raise UsageError(
            f"cannot import {target!r} in a worker process; pass 'module:attr' for an "
            "object defined at module level in an importable module"
        )
    return f"{module}:{qualname}"


def make_settings(
    target: str | Callable[..., Any] | type, **given: Unpack[SettingsOptions]
) -> Settings:
    """Validated settings for one analysis; every problem is one ``UsageError``.

    The keywords, their defaults and their checks are declared in :mod:`wfleak.options`.
    """
    checked = options.from_python(given, options.setting_options())
    spec = check_target_string(target_string(target))
    return Settings(target=spec, **options.settings_fields(checked))


def _ignore(_: Progress) -> None:
    return None


def run_analysis(
    settings: Settings,
    *,
    max_time: float | None = None,
    cwd: str | os.PathLike[str] | None = None,
    observer: Callable[[Progress], None] | None = None,
    show_secrets: bool = False,
) -> Report:
    """Analyse with ready-made settings, in a worker process started in ``cwd``.

    Every argument is checked before the worker starts. Strings in the report that look like
    credentials are masked unless ``show_secrets`` is true."""
    options.from_python(
        {"max_time": max_time, "show_secrets": show_secrets},
        [options.MAX_TIME, options.SHOW_SECRETS],
    )
    folder = _folder(cwd)
    if observer is not None and not callable(observer):
        raise UsageError(f"observer must be callable (got {observer!r})")
    try:
        report = analyze_in_worker(settings, observer or _ignore, max_time=max_time, cwd=folder)
    except WfleakError as exc:
        if not show_secrets:
            exc.message = mask_text(exc.message)
        raise
    return report if show_secrets else mask_report(report)


def _folder(cwd: object) -> str | None:
    if cwd is None:
        return None
    if not isinstance(cwd, str | os.PathLike):
        raise UsageError(f"cwd must be a path (got {cwd!r})")
    folder = os.fspath(cwd)
    if not isinstance(folder, str) or not os.path.isdir(folder):
        raise UsageError(f"No such directory: {folder}")
    return folder


def analyze(
    target: str | Callable[..., Any] | type,
    *,
    cwd: str | os.PathLike[str] | None = None,
    observer: Callable[[Progress], None] | None = None,
    **given: Unpack[AnalyzeOptions],
) -> Report:
    """Run a workflow ``iterations`` times after ``warmup`` runs and report what leaks.

    ``target`` is ``'package.module:Workflow'``, ``'path/to/file.py:attr'`` (relative to
    ``cwd``), or the class or factory itself when it is importable by its module name;
    the keywords are those of :func:`make_settings` and ``max_time``, the limit in seconds
    for the whole analysis. The analysis runs in a worker process, so the caller's heap
    neither hides nor causes leaks.
    """
    max_time = given.pop("max_time", None)
    show_secrets = given.pop("show_secrets", False)
    settings = make_settings(target, **cast(SettingsOptions, given))
    return run_analysis(
        settings, max_time=max_time, cwd=cwd, observer=observer, show_secrets=show_secrets
    )
