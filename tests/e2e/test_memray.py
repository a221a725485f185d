"""``--memray FILE``: the recording of the measured runs, the user's share of it, and a file
that is never overwritten by accident."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow

LEAKY = "samples/leaky_global.py:LeakyWorkflow"


def test_recording_reports_the_user_s_share_and_keeps_an_existing_file(tmp_path: Path) -> None:
    capture = tmp_path / "runs.bin"
    first = run_cli("run", LEAKY, "-n", "8", "--memray", str(capture), "--json", "-")
    assert first.code == 0, first.stderr
    summary = first.report["memray"]
    assert summary["file"] == str(capture)
    parts = summary["user_bytes"] + summary["own_bytes"] + summary["other_bytes"]
    assert parts == summary["leaked_bytes"] > 0
    assert 0 < summary["user_bytes"] < summary["leaked_bytes"]
    # The user's stacks reach the project or the framework; none is wfleak's own.
    for stack in summary["top_stacks"]:
        files = [frame["filename"] for frame in stack["stack"]]
        assert any(f.startswith(("samples/", "workflows/", "llama_index/")) for f in files)
    assert "through your project and the framework" in first.stderr
    assert "the user's share of" in first.stderr

    recorded = capture.read_bytes()
    again = run_cli("run", LEAKY, "-n", "8", "--memray", str(capture))
    assert again.code == 2
    assert again.stderr.strip() == (
        f"wfleak: error: --memray: {capture} exists; give --force to overwrite it or another FILE"
    )
    assert capture.read_bytes() == recorded

    forced = run_cli("run", LEAKY, "-n", "8", "--memray", str(capture), "--force", "--json", "-")
    assert forced.code == 0, forced.stderr
    assert forced.report["memray"]["leaked_bytes"] > 0
