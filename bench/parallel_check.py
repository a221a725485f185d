"""Parallel check: the wall time of ``wfleak check`` on six targets with ``-j 1`` (the
baseline) and with ``-j auto``, and that both give the same results in the same order."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, ratio, table, wfleak
from bench.common import run as timed

TARGETS = [
    ("history", "leaky_global.py:LeakyWorkflow"),
    ("history-fixed", "fixed_global.py:FixedWorkflow"),
    ("clean", "clean.py:CleanWorkflow"),
    ("cache-fixed", "fixed_cache.py:FixedWorkflow"),
    ("task-fixed", "fixed_task.py:FixedWorkflow"),
    ("errors-fixed", "fixed_errors.py:FixedWorkflow"),
]
ITERATIONS = 30


def _config(folder: Path) -> Path:
    lines = ["[tool.wfleak]", f"iterations = {ITERATIONS}", "warmup = 3", ""]
    for name, target in TARGETS:
        lines += ["[[tool.wfleak.targets]]", f'name = "{name}"', f'target = "{target}"', ""]
    config = folder / "wfleak-check.toml"
    config.write_text("\n".join(lines))
    # Targets are imported relative to the configuration's folder.
    for _, target in TARGETS:
        source = target.split(":")[0]
        (folder / source).write_text((ROOT / "samples" / source).read_text())
    return config


def _check(config: Path, jobs: str, report: Path) -> tuple[float, list[tuple[str, str]]]:
    # check exits 1: one target leaks, as it should.
    elapsed, _ = timed(
        wfleak("check", "--config", str(config), "-j", jobs, "--json", str(report)), ok_codes=(1,)
    )
    targets: list[dict[str, Any]] = json.loads(report.read_text())["targets"]
    return elapsed, [(t["name"], t["status"]) for t in targets]


def measure(cores: int) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        config = _config(folder)
        serial, serial_results = _check(config, "1", folder / "serial.json")
        side, side_results = _check(config, "auto", folder / "parallel.json")
    same = "same" if serial_results == side_results else f"DIFFERENT: {side_results}"
    rows = [
        (f"wfleak check -j 1 ({len(TARGETS)} targets)", f"{serial:.1f}", "1.00×", ""),
        (f"wfleak check -j auto (= {cores})", f"{side:.1f}", ratio(side, serial), same),
    ]
    return table(
        f"6. Parallel check: {len(TARGETS)} targets, {ITERATIONS} measured runs each "
        "(baseline: -j 1)",
        ["command", "wall s", "ratio", "results and order vs -j 1"],
        rows,
    )
