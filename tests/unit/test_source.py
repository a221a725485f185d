from __future__ import annotations

import textwrap
from pathlib import Path

from wfleak.analysis.source import Mutation, find_mutations

APP = textwrap.dedent(
    """\
    HISTORY = []
    INDEX = {}


    class MyWorkflow:
        def __init__(self):
            self.seen = []

        async def step(self, ctx, ev):
            self.seen.append(ev)
            if len(HISTORY) > 3:
                print(HISTORY[0])
            snapshot = HISTORY
            HISTORY.append(ctx)
            return snapshot


    def remember(key, value):
        HISTORY[key] = value
        HISTORY.setdefault(key, []).append(value)
        INDEX[key] = value
        OTHER.append(value)


    HISTORY.extend([1, 2])
    """
)


def write(tmp_path: Path, text: str, name: str = "app.py") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def lines(mutations: list[Mutation]) -> list[tuple[int, str]]:
    return [(m.lineno, m.code) for m in mutations]


def test_finds_every_growing_call_and_item_assignment_sorted_by_line(tmp_path: Path) -> None:
    filename = write(tmp_path, APP)
    found = find_mutations(filename, "HISTORY")
    assert lines(found) == [
        (14, "HISTORY.append(ctx)"),
        (19, "HISTORY[key] = value"),
        (20, "HISTORY.setdefault(key, []).append(value)"),
        (25, "HISTORY.extend([1, 2])"),
    ]
    assert all(m.filename == filename for m in found)


def test_line_numbers_and_code_come_from_the_file(tmp_path: Path) -> None:
    filename = write(tmp_path, APP)
    source_lines = APP.splitlines()
    for mutation in find_mutations(filename, "HISTORY"):
        assert mutation.code == source_lines[mutation.lineno - 1].strip()
        assert "HISTORY" in mutation.code


def test_attribute_container_is_found_by_its_attribute_name(tmp_path: Path) -> None:
    filename = write(tmp_path, APP)
    assert lines(find_mutations(filename, "seen")) == [(10, "self.seen.append(ev)")]


def test_other_names_are_not_confused(tmp_path: Path) -> None:
    filename = write(tmp_path, APP)
    assert lines(find_mutations(filename, "INDEX")) == [(21, "INDEX[key] = value")]
    assert lines(find_mutations(filename, "OTHER")) == [(22, "OTHER.append(value)")]
    assert find_mutations(filename, "snapshot") == []


def test_reads_are_not_mutations(tmp_path: Path) -> None:
    source = textwrap.dedent(
        """\
        HISTORY = []
        n = len(HISTORY)
        first = HISTORY[0]
        alias = HISTORY
        copy = list(HISTORY)
        found = HISTORY.index(3)
        HISTORY.count(1)
        print(HISTORY)
        """
    )
    assert find_mutations(write(tmp_path, source), "HISTORY") == []


def test_augmented_item_assignment_and_other_growing_methods(tmp_path: Path) -> None:
    source = textwrap.dedent(
        """\
        import collections
        COUNTS = collections.Counter()
        QUEUE = collections.deque()
        COUNTS['a'] += 1
        QUEUE.appendleft(1)
        QUEUE.insert(0, 2)
        COUNTS.update(['b'])
        """
    )
    filename = write(tmp_path, source)
    assert lines(find_mutations(filename, "COUNTS")) == [
        (4, "COUNTS['a'] += 1"),
        (7, "COUNTS.update(['b'])"),
    ]
    assert lines(find_mutations(filename, "QUEUE")) == [
        (5, "QUEUE.appendleft(1)"),
        (6, "QUEUE.insert(0, 2)"),
    ]


def test_where_names_file_and_line(tmp_path: Path) -> None:
    filename = write(tmp_path, "SEEN = set()\nSEEN.add(1)\n")
    (mutation,) = find_mutations(filename, "SEEN")
    assert mutation.lineno == 2
    assert mutation.where.endswith("app.py:2")


def test_missing_file_gives_nothing(tmp_path: Path) -> None:
    assert find_mutations(str(tmp_path / "missing.py"), "HISTORY") == []


def test_syntax_error_gives_nothing(tmp_path: Path) -> None:
    filename = write(tmp_path, "HISTORY = []\nHISTORY.append(1\ndef (:\n")
    assert find_mutations(filename, "HISTORY") == []


def test_undecodable_file_gives_nothing(tmp_path: Path) -> None:
    path = tmp_path / "binary.py"
    path.write_bytes(b"HISTORY = []\nHISTORY.append('\xff\xfe')\n")
    assert find_mutations(str(path), "HISTORY") == []


def test_directory_gives_nothing(tmp_path: Path) -> None:
    assert find_mutations(str(tmp_path), "HISTORY") == []
