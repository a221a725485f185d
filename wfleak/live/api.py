"""``wfleak.watch()`` and ``wfleak.watch_lifespan()``: one watcher per process."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from wfleak.errors import UsageError
from wfleak.live.options import DEFAULT_EXPLAIN_RATE, DEFAULT_GRACE, ExplainMode, make_options

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from wfleak.live.watcher import Watcher

_lock = threading.Lock()
_current: Watcher | None = None


def watch(
    *,
    grace: float = DEFAULT_GRACE,
    registry: CollectorRegistry | None = None,
    collect_every: float | None = None,
    explain: ExplainMode | str = ExplainMode.AUTO,
    explain_rate: float = DEFAULT_EXPLAIN_RATE,
    endpoint: str | int | None = None,
    token: str | None = None,
) -> Watcher:
    """Watch every workflow run of this process for objects that outlive it.

    A second call returns the watcher already running (its options stay as they were);
    ``Watcher.close()`` stops it, after which ``watch()`` starts a new one.
    """
    global _current
    options = make_options(
        grace=grace,
        collect_every=collect_every,
        explain=explain,
        explain_rate=explain_rate,
        endpoint=endpoint,
        token=token,
    )
    if options.explain is ExplainMode.FORK:
        from wfleak.live.fork import supported

        if not supported():
            raise UsageError(
                "watch(): explain='fork' needs Linux; use 'auto' to walk the heap from a "
                "thread where forking is unsafe"
            )
    with _lock:
        if _current is not None:
            return _current
        if importlib.util.find_spec("prometheus_client") is None:
            raise UsageError(
                "watch() exports its metrics with prometheus-client: pip install 'wfleak[watch]'"
            )
        from wfleak.live.watcher import Watcher

        _current = Watcher(options, registry)
        return _current


def forget(watcher: Watcher) -> None:
    """Called by ``Watcher.close()``: the next ``watch()`` makes a new watcher."""
    global _current
    with _lock:
        if _current is watcher:
            _current = None


@asynccontextmanager
async def watch_lifespan(app: Any, **options: Any) -> AsyncIterator[None]:
    """A FastAPI/Starlette lifespan that watches the app's workflow runs while it serves.

    ``FastAPI(lifespan=wfleak.watch_lifespan)`` (or ``functools.partial(watch_lifespan,
    grace=60)`` for options). It mounts the metrics at ``/metrics`` unless the app already
    has a route there, keeps the watcher in ``app.state.wfleak``, and closes it on shutdown.
    """
    watcher = watch(**options)
    router = getattr(app, "router", None)
    routes = getattr(router, "routes", None)
    if isinstance(routes, list) and not any(getattr(r, "path", None) == "/metrics" for r in routes):
        app.mount("/metrics", watcher.metrics_app)
    state = getattr(app, "state", None)
    if state is not None:
        state.wfleak = watcher
    try:
        yield
    finally:
        watcher.close()
