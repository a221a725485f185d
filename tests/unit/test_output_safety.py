"""Text from the user's program, neutralised for every output; credentials masked."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from wfleak import jsontext
from wfleak.config import load_config
from wfleak.model import Finding, FindingKind, Frame
from wfleak.probes.tracker import ObjectTracker
from wfleak.report import safety
from wfleak.secrets import mask_report, mask_text
from wfleak.serde import from_jsonable, json_safe

HOSTILE = "\x1b[2J\x1b]0;pwned\x07\r\n::error file=x.py,line=1::forged <b>|`x`\u202e\x00"


def test_terminal_text_is_one_escaped_bounded_line() -> None:
    text = safety.terminal(HOSTILE)
    assert text == (
        "\\x1b[2J\\x1b]0;pwned\\x07\\r\\n::error file=x.py,line=1::forged <b>|`x`\\u202e\\x00"
    )
    assert safety.terminal("x" * 5000) == "x" * 2000 + "… (3000 more characters)"


def test_no_line_can_start_a_github_workflow_command() -> None:
    for text in (safety.terminal("::error::x"), safety.github_log("ok\n  ::warning::x")):
        assert not any(line.lstrip().startswith("::") for line in text.splitlines())


def test_junit_text_always_parses() -> None:
    element = ET.Element("failure", {"message": safety.xml(HOSTILE)})
    element.text = safety.xml(HOSTILE)
    parsed = ET.fromstring(ET.tostring(element, encoding="unicode"))
    assert "\\x1b[2J" in (parsed.text or "")


def test_mermaid_and_dot_labels_stay_one_quoted_line() -> None:
    label = safety.mermaid(HOSTILE)
    assert "\n" not in label and '"' not in label and "<" not in label and "|" not in label
    dot = safety.dot('a"b\nc\\')
    assert dot == 'a\\"b\\\\nc\\\\'


def test_markdown_is_html_escaped_outside_code_spans() -> None:
    assert safety.markdown("<event loop> in `<x>`") == "&lt;event loop&gt; in `<x>`"
    assert safety.markdown("a\n```\nb") == "a\\n\\`\\`\\`\\nb"
    assert safety.code_span("a`b") == "`` a`b ``"


SECRET = "sk-proj-Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"401 for key {SECRET}", "401 for key ***"),
        ("Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer ***"),
        ("password=hunter22 user=bob", "password=*** user=bob"),
        ("token ghp_0123456789abcdefghijABCDEFGHIJ", "token ***"),
        ("id AKIAABCDEFGHIJKLMNOP", "id ***"),
        ("random Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LmNb", "random ***"),
    ],
)
def test_credentials_are_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "llama_index.core.workflow.context.Context",
        "fingerprint 0123456789abcdef",
        "dict['history'] → list[3] → Context",
        "tests/fixtures/lifecycle.py:136",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_text(text) == text


def test_a_key_on_a_retention_path_is_masked_everywhere_in_the_model() -> None:
    finding = Finding(
        kind=FindingKind.LEAK,
        title=f"CACHE['{SECRET}'] keeps Contexts",
        summary=f"module global CACHE → dict['{SECRET}'] → Context",
        allocation_sites=[Frame(filename="app.py", lineno=3, function="f", user=True)],
    )
    masked = mask_report(finding)
    assert SECRET not in repr(masked)
    assert masked.kind is FindingKind.LEAK
    assert mask_report({"api_key": "short"}) == {"api_key": "***"}


def test_reports_are_standard_json() -> None:
    data = json_safe({"p": math.nan, "slope": math.inf, "rows": [-math.inf]})
    json.dumps(data, allow_nan=False)
    assert data == {"p": None, "slope": 1.7976931348623157e308, "rows": [-1.7976931348623157e308]}
    assert math.isnan(from_jsonable(float, None))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"x": NaN}', "holds NaN, which is not standard JSON: use a number or null"),
        ("[" * 50_000, "is nested too deeply to read"),
        ("[1]", "must be a JSON object, got list"),
    ],
)
def test_json_from_the_user_is_refused_in_one_phrase(text: str, problem: str) -> None:
    with pytest.raises(jsontext.JsonProblem) as raised:
        jsontext.load_object(text)
    assert str(raised.value) == problem


def test_toml_dates_become_iso_strings(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(
        "[tool.wfleak]\n"
        "input = { since = 2024-01-01, at = 2024-01-01T10:30:00Z, hour = 07:45:00 }\n"
        "workflow-kwargs = { start = 1979-05-27T07:32:00 }\n"
        '[[tool.wfleak.targets]]\nname = "t"\ntarget = "x.py:W"\n'
    )
    (target,) = load_config(path, {}, require_targets=True).targets
    assert target.options["input"] == {
        "since": "2024-01-01",
        "at": "2024-01-01T10:30:00+00:00",
        "hour": "07:45:00",
    }
    assert target.options["workflow-kwargs"] == {"start": "1979-05-27T07:32:00"}


class _LazyProxy:
    def __getattribute__(self, name: str) -> object:
        raise RuntimeError("Working outside of request context.")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")


def test_the_tracker_never_reads_attributes_of_what_it_looks_at() -> None:
    tracker = ObjectTracker(lambda tp: tp is _LazyProxy)
    proxy = _LazyProxy()
    assert tracker.is_own(proxy) is False
    assert tracker.adopt([proxy, 1, "x"]) == 1
    assert tracker.alive_by_type() == {"_LazyProxy": 1}


class Link:
    def __init__(self) -> None:
        self.next: object = None


def test_a_long_path_is_elided_in_the_middle_in_text_and_graph() -> None:
    from wfleak.analysis.edges import Hop
    from wfleak.analysis.explain import _Graph, render_path
    from wfleak.analysis.paths import Root, RootKind

    links = [Link() for _ in range(30_000)]
    hops = [Hop(link, ".next") for link in links]
    end = object()
    text = render_path(Root(RootKind.MODULE, "app.CHAIN"), hops, end)
    assert "… 29 980 more `Link.next` …" in text
    assert text.count("Link.next") == 20  # the root, nine and ten at the ends, the count
    assert len(text) < 1000
    graph = _Graph()
    ids = graph.chain(hops, end, root=True)
    assert len(graph.nodes) == 23 and len(ids) == 23
    assert graph.nodes[11].label == "29 980 more `Link.next`"
