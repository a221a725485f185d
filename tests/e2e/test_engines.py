"""wfleak on each engine it supports, installed on its own: llama-index-workflows without
llama-index-core, llama-index-core from 0.11, an unsupported older release, and neither.

Each environment has wfleak's own dependencies and one engine release, nothing else
(tests/old_releases.py), so an import of the other engine would fail there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.old_releases import ROOT, release_python, run_wfleak, uv_program

pytestmark = [pytest.mark.old_release, pytest.mark.slow]

STANDALONE = "samples/standalone_leaky.py:LeakyWorkflow"
CORE = "samples/leaky_global.py:LeakyWorkflow"


def importable(python: Path, module: str) -> bool:
    probe = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True)
    return probe.returncode == 0


def report_of(python: Path, target: str) -> dict[str, Any]:
    result = run_wfleak(python, "run", target, "-n", "8", "--json", "-")
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.mark.parametrize("release", ["1.3.0", "2.26.1"])
def test_standalone_engine_runs_without_llama_index_core(release: str) -> None:
    python = release_python(f"llama-index-workflows=={release}")
    assert not importable(python, "llama_index.core")
    report = report_of(python, STANDALONE)
    assert report["environment"]["workflows"] == release
    assert report["environment"]["llama_index_core"] is None
    assert report["verdict"] == "leak"
    finding = report["findings"][0]
    assert finding["pattern_id"] == "WFL001"
    assert finding["count"] == 8
    assert "samples.standalone_leaky.HISTORY" in finding["summary"]
    assert report["notes"] == []
    assert report["warnings"] == []


def test_llama_index_core_0_11_is_supported() -> None:
    python = release_python("llama-index-core==0.11.23")
    assert not importable(python, "workflows")
    report = report_of(python, CORE)
    assert report["environment"]["llama_index_core"] == "0.11.23"
    assert report["verdict"] == "leak"
    assert report["findings"][0]["pattern_id"] == "WFL001"
    assert report["notes"] == []


def test_older_release_is_analysed_with_a_warning() -> None:
    python = release_python("llama-index-core==0.10.68")
    report = report_of(python, CORE)
    assert report["verdict"] == "leak"
    assert report["warnings"] == [
        "llama-index-core 0.10.68 is older than wfleak supports (0.11 to 0.14): its workflow "
        "classes may not be recognised and findings may be missing; upgrade it"
    ]
    # Said once, as a warning, not again as a note.
    assert not any("0.10.68" in note for note in report["notes"])


def test_no_engine_is_one_line_naming_the_interpreter() -> None:
    python = release_python()
    assert not importable(python, "workflows")
    assert not importable(python, "llama_index.core")
    result = run_wfleak(python, "run", CORE, "-n", "8")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"wfleak: error: No LlamaIndex workflow engine is installed for {python}: install "
        "llama-index-core or llama-index-workflows in this environment "
        "(pip install 'wfleak[core]' or 'wfleak[workflows]')"
    ]


def test_memray_missing_is_one_line_on_how_to_install(tmp_path: Path) -> None:
    python = release_python("llama-index-workflows==2.26.1")
    assert not importable(python, "memray")
    result = run_wfleak(python, "run", STANDALONE, "-n", "8", "--memray", str(tmp_path / "m.bin"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"wfleak: error: --memray needs memray, which is not installed for {python}: "
        "pip install 'wfleak[memray]' (or pip install memray) in this environment"
    ]
    assert not (tmp_path / "m.bin").exists()


def test_built_wheel_installs_and_runs_with_only_the_standalone_engine(tmp_path: Path) -> None:
    # What a user does: build a wheel, install it with one engine into a new environment,
    # run the console script (no PYTHONPATH: the checkout is not importable there).
    uv = uv_program()
    assert uv is not None, "uv comes with the test extra"
    dist = tmp_path / "dist"
    subprocess.run(
        [uv, "build", "-q", "--wheel", "-o", str(dist), str(ROOT)], check=True, timeout=300
    )
    (wheel,) = dist.glob("wfleak-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    assert "wfleak/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    requires = [
        line.split(": ", 1)[1]
        for line in metadata.decode().splitlines()
        if line.startswith("Requires-Dist: ")
    ]
    unconditional = [r for r in requires if "extra ==" not in r]
    assert not [r for r in unconditional if r.startswith(("llama-index", "memray", "objgraph"))]
    env = tmp_path / "env"
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(env)], check=True)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(env / "bin" / "python"),
            f"{wheel}[workflows]",
        ],
        check=True,
        timeout=600,
    )
    python = env / "bin" / "python"
    assert not importable(python, "llama_index.core")
    assert importable(python, "workflows")
    result = subprocess.run(
        [str(env / "bin" / "wfleak"), "run", STANDALONE, "-n", "8", "--json", "-"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"TERM": "dumb"},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "leak"
    assert report["findings"][0]["pattern_id"] == "WFL001"
