"""Watch a live service: find workflow runs whose objects outlive them, in production.

``wfleak.watch()`` at start-up (or ``wfleak.watch_lifespan`` as a FastAPI/Starlette
lifespan) wraps every ``Workflow.run()`` of the process, watches each run's objects by weak
reference, counts the runs still alive after a full collection past a grace period, exports
the counts as metrics and explains them off the request path.
"""

from __future__ import annotations

from wfleak.live.api import watch, watch_lifespan
from wfleak.live.options import ExplainMode
from wfleak.live.watcher import Watcher

__all__ = ["ExplainMode", "Watcher", "watch", "watch_lifespan"]
