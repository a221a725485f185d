"""A saved result as a baseline: what each target already had, so only regressions fail."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wfleak.files import read_text
from wfleak.gate import BaselineEntry
from wfleak.gate import baseline_entry as _entry
from wfleak.model import Report
from wfleak.serde import loads_result


@dataclass(frozen=True)
class Baseline:
    source: str
    by_name: dict[str, BaselineEntry]
    by_target: dict[str, BaselineEntry]

    def entry(self, name: str, target: str) -> BaselineEntry | None:
        """The saved entry for a target, matched by name, else by import string."""
        return self.by_name.get(name) or self.by_target.get(target)


def load_baseline(path: Path) -> Baseline:
    """A ``check --json`` result or a ``run --json`` report."""
    result = loads_result(read_text(path, "a wfleak report"), str(path))
    if isinstance(result, Report):
        entry = _entry(result)
        return Baseline(str(path), {}, {result.target: entry})
    by_name: dict[str, BaselineEntry] = {}
    by_target: dict[str, BaselineEntry] = {}
    for checked in result.targets:
        if checked.report is not None:
            by_name[checked.name] = _entry(checked.report)
            by_target.setdefault(checked.target, by_name[checked.name])
    return Baseline(str(path), by_name, by_target)
