"""The garbage collector's functions as they were when wfleak was imported.

The probes measure through these, never through ``gc.<name>`` looked up at call time: a target
that replaces ``gc.collect`` with a no-op (to "speed up" a service) would otherwise make every
run look like a leak. :func:`replaced` tells which ones a target changed, for the report.
"""

from __future__ import annotations

import gc

collect = gc.collect
get_objects = gc.get_objects
get_referents = gc.get_referents
get_referrers = gc.get_referrers
freeze = gc.freeze
unfreeze = gc.unfreeze
enable = gc.enable
disable = gc.disable
isenabled = gc.isenabled
get_debug = gc.get_debug
set_debug = gc.set_debug

_ORIGINALS = {
    name: value
    for name, value in vars().items()
    if not name.startswith("_") and callable(value) and getattr(gc, name, None) is value
}


def replaced() -> list[str]:
    """Names of the ``gc`` functions that are no longer the interpreter's own."""
    return sorted(
        name for name, value in _ORIGINALS.items() if getattr(gc, name, None) is not value
    )


def replaced_note() -> str | None:
    names = replaced()
    if not names:
        return None
    listed = ", ".join(f"gc.{name}" for name in names)
    return (
        f"the target replaced {listed}; wfleak measured with the interpreter's own, so the "
        "results stand, but the workflow's own calls do not collect what they seem to"
    )
