"""Virtual environments with other framework releases, built once and cached between runs.

The tests run wfleak from this checkout (``PYTHONPATH``) with another release of
llama-index-core or llama-index-workflows (or neither) installed beside wfleak's own
dependencies. An environment is kept under ``$WFLEAK_TEST_ENVS`` (default
``~/.cache/wfleak/test-envs``) and reused while its requirements stay the same; building one
takes seconds with ``uv`` (installed by the test extra), a minute or two with pip.

``python tests/old_releases.py --all`` builds every environment in ``ENVIRONMENTS`` in
parallel, as CI does before the tests; ``python tests/old_releases.py REQUIREMENT...`` builds
one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("WFLEAK_TEST_ENVS", Path.home() / ".cache" / "wfleak" / "test-envs"))

ENVIRONMENTS: tuple[tuple[str, ...], ...] = (
    # The seed bug before and after its fix (tests/e2e/test_old_releases.py).
    ("llama-index-core==0.12.10.post1",),
    ("llama-index-core==0.12.24.post1",),
    ("llama-index-core==0.12.25",),
    # The engines and releases wfleak supports, and one it does not (tests/e2e/test_engines.py).
    ("llama-index-core==0.10.68",),
    ("llama-index-core==0.11.23",),
    ("llama-index-workflows==1.3.0",),
    ("llama-index-workflows==2.26.1",),
    (),
    # wfleak.watch() on the old engine (tests/live/test_old_releases.py).
    ("llama-index-core==0.12.10.post1", "prometheus-client"),
    ("llama-index-core==0.12.25", "prometheus-client"),
    # The catalogue's entries, each where it occurs and where it was fixed
    # (tests/e2e/test_catalogue_releases.py, tests/e2e/test_explanations.py).
    ("llama-index-core==0.12.5",),
    ("llama-index-core==0.12.6",),
    ("llama-index-workflows==2.8.3",),
    ("llama-index-workflows==2.9.0",),
    ("llama-index-workflows==2.17.1", "aiohttp"),
    ("llama-index-workflows==2.17.3", "aiohttp"),
    ("llama-agents-server==0.1.3",),
    ("llama-agents-server==0.2.0",),
)
"""Every environment the tests ask for, so CI can build them all at once, ahead of the tests."""


def _wfleak_dependencies() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def uv_program() -> str | None:
    """The ``uv`` beside the running interpreter (the test extra installs it), else on PATH."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else shutil.which("uv")


def _create(env: Path, wanted: list[str]) -> None:
    python = env / "bin" / "python"
    uv = uv_program()
    if uv is not None:
        # Same interpreter as the tests, so the environment matches the Python under test.
        subprocess.run([uv, "venv", "-q", "--clear", "-p", sys.executable, str(env)], check=True)
        command = [uv, "pip", "install", "-q", "--python", str(python), *wanted]
    else:
        venv.create(env, with_pip=True, clear=True)
        command = [str(python), "-m", "pip", "install", "-q", *wanted]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def release_python(*requirements: str) -> Path:
    """The interpreter of a cached environment with ``requirements`` and wfleak's other
    dependencies installed (wfleak itself comes from this checkout)."""
    wanted = sorted([*requirements, *_wfleak_dependencies()])
    interpreter = f"py{sys.version_info.major}.{sys.version_info.minor}"
    digest = hashlib.sha256("\n".join([interpreter, *wanted]).encode()).hexdigest()[:12]
    label = "-".join(requirements) or "no-engine"
    name = re.sub(r"[^A-Za-z0-9.]+", "-", f"{label}-{interpreter}") + f"-{digest}"
    env = CACHE / name
    python = env / "bin" / "python"
    ready = env / ".ready"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            _create(env, wanted)
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


def build_all(workers: int = 4) -> None:
    """Build every environment of ``ENVIRONMENTS``; downloads overlap, so run them at once."""

    def build(requirements: tuple[str, ...]) -> str:
        started = time.monotonic()
        python = release_python(*requirements)
        label = " ".join(requirements) or "(no engine)"
        return f"{time.monotonic() - started:6.1f} s  {label}  {python}"

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for line in pool.map(build, ENVIRONMENTS):
            print(line, flush=True)
    print(f"{time.monotonic() - started:6.1f} s  all {len(ENVIRONMENTS)} environments", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--all"]:
        build_all()
    else:
        # ``python tests/old_releases.py llama-index-core==0.12.25`` builds one ahead of time.
        print(release_python(*sys.argv[1:]))
