"""The run entry point, wrapped: every ``Workflow.run()`` in the process reports to the watcher.

Wrapping the base class's ``run`` and ``__init__`` reaches every workflow, whichever engine
provides it (llama-index-core 0.12's own, or the ``workflows`` package behind 0.14) and
whatever subclass the service defines, since a subclass's ``run`` ends in the base class's.
The wrappers never let the watcher's own failure reach the service.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wfleak import framework
from wfleak.live.recorder import CURRENT_RUN, Recorder

logger = logging.getLogger("wfleak.watch")


@dataclass(frozen=True)
class _Patched:
    cls: type
    name: str
    original: Any
    """The function (or classmethod) the class had."""
    wrapper: Any


def _wrap_run(original: Callable[..., Any], recorder: Recorder) -> Callable[..., Any]:
    @functools.wraps(original)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        record = recorder.run_starting()
        # Set while run() creates the run's tasks, which copy it: a step's Context made
        # later in those tasks knows its run.
        token = CURRENT_RUN.set(record)
        try:
            handler = original(self, *args, **kwargs)
        finally:
            CURRENT_RUN.reset(token)
        try:
            recorder.run_started(self, handler, record)
        except Exception:  # the service must never fail because it is watched
            logger.exception("wfleak: could not watch a run; the run goes on unwatched")
        return handler

    return run


def _wrap_init(original: Callable[..., Any], recorder: Recorder) -> Callable[..., Any]:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        try:
            recorder.workflow_made(self)
        except Exception:
            logger.exception("wfleak: could not note a new workflow")

    return __init__


def _wrap_create_internal(original: Any, recorder: Recorder) -> Any:
    function = original.__func__

    @functools.wraps(function)
    def _create_internal(cls: Any, *args: Any, **kwargs: Any) -> Any:
        context = function(cls, *args, **kwargs)
        try:
            recorder.step_context(context)
        except Exception:
            logger.exception("wfleak: could not watch a step's Context")
        return context

    return classmethod(_create_internal)


class RunHook:
    """Installs the wrappers on every engine's ``Workflow`` class, and takes them off again."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self._patched: list[_Patched] = []

    @property
    def engines(self) -> list[str]:
        return sorted({p.cls.__module__ for p in self._patched})

    def install(self) -> None:
        for engine in framework.engines():
            cls = engine.workflow
            for name, wrap in (("run", _wrap_run), ("__init__", _wrap_init)):
                original = cls.__dict__.get(name)
                if original is None:
                    continue
                wrapper = wrap(original, self._recorder)
                setattr(cls, name, wrapper)
                self._patched.append(_Patched(cls, name, original, wrapper))
            # llama-index-workflows 2.x hands each step a Context of its own, made here.
            context_cls = engine.context
            original = context_cls.__dict__.get("_create_internal")
            if isinstance(original, classmethod):
                wrapper = _wrap_create_internal(original, self._recorder)
                setattr(context_cls, "_create_internal", wrapper)  # noqa: B010
                self._patched.append(_Patched(context_cls, "_create_internal", original, wrapper))

    def remove(self) -> None:
        for patched in reversed(self._patched):
            # Only undo our own wrapper: something installed after it stays in place.
            if patched.cls.__dict__.get(patched.name) is patched.wrapper:
                setattr(patched.cls, patched.name, patched.original)
        self._patched.clear()
