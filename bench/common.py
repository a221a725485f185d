"""What every benchmark shares: the machine it ran on, timing a command, printing a table."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def machine() -> list[tuple[str, str]]:
    return [
        ("CPU", f"{os.cpu_count()} × {_cpu_model()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Platform", platform.platform(terse=True)),
        ("llama-index-core", _version("llama-index-core")),
        ("llama-index-workflows", _version("llama-index-workflows")),
        ("wfleak", _version("wfleak")),
        ("Load average at start", load_average()),
        ("Memory available at start", f"{available_bytes() / (1 << 30):.1f} GiB"),
        (
            "memray / objgraph / numpy",
            "/".join(_version(p) for p in ("memray", "objgraph", "numpy")),
        ),
    ]


def available_bytes() -> int:
    """Memory the kernel says it can hand out now (MemAvailable), 0 if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min)"


def env(**extra: str) -> dict[str, str]:
    variables = dict(os.environ)
    variables.update({"TERM": "dumb", "NO_COLOR": "1", "COLUMNS": "120"})
    variables.update(extra)
    return variables


def run(
    command: Sequence[str],
    extra_env: Mapping[str, str] | None = None,
    ok_codes: Sequence[int] = (0,),
) -> tuple[float, str]:
    """Wall time of one command (from process start to exit) and its stdout; an exit code
    outside ``ok_codes`` is an error."""
    started = time.perf_counter()
    done = subprocess.run(
        list(command), cwd=ROOT, env=env(**(extra_env or {})), capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode not in ok_codes:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def median_time(command: Sequence[str], repeat: int) -> float:
    return median(run(command)[0] for _ in range(repeat))


def wfleak(*args: str) -> list[str]:
    return [PYTHON, "-m", "wfleak", *args]


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[k]) for row in cells) for k in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([f"### {title}", "", line(cells[0]), rule, *map(line, cells[1:]), ""])


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}×"
