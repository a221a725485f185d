"""Virtual environments with old framework releases, built once and cached between runs.

The tests run wfleak from this checkout (``PYTHONPATH``) with another release of
llama-index-core installed beside wfleak's other dependencies. Building an environment takes a
minute or two; it is kept under ``$WFLEAK_TEST_ENVS`` (default ``~/.cache/wfleak/test-envs``)
and reused while its requirements stay the same.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("WFLEAK_TEST_ENVS", Path.home() / ".cache" / "wfleak" / "test-envs"))


def _wfleak_dependencies() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [d for d in project["dependencies"] if not d.startswith("llama-index-core")]


def release_python(*requirements: str) -> Path:
    """The interpreter of a cached environment with ``requirements`` and wfleak's other
    dependencies installed (wfleak itself comes from this checkout)."""
    wanted = sorted([*requirements, *_wfleak_dependencies()])
    digest = hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9.]+", "-", "-".join(requirements)) + f"-{digest}"
    env = CACHE / name
    python = env / "bin" / "python"
    ready = env / ".ready"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            venv.create(env, with_pip=True, clear=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", *wanted],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            ready.write_text("\n".join(wanted) + "\n")
    return python


def run_wfleak(python: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="dumb", COLUMNS="120", NO_COLOR="1")
    return subprocess.run(
        [str(python), "-m", "wfleak", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


def run_script(python: Path, script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), str(script), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=600,
    )


if __name__ == "__main__":
    # ``python tests/old_releases.py llama-index-core==0.12.25`` builds one ahead of time.
    print(release_python(*sys.argv[1:]))
