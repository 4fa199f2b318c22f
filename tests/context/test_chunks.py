"""Chunks follow the syntax tree: functions, classes (large ones by method), top-level blocks;
line windows for other files and for anything too long."""

from __future__ import annotations

from forecode.context.chunks import MAX_CHUNK_LINES, WINDOW_LINES, line_windows
from forecode.context.facts import file_facts

SOURCE = '''import os
import sys

LIMIT = 10


@decorator
def first(a, b):
    return a + b


class Small:
    def method(self):
        return 1
'''


def test_functions_classes_and_blocks_are_chunks_with_their_lines() -> None:
    chunks = file_facts("m.py", SOURCE).chunks
    got = [(c.kind, c.name, c.start_line, c.end_line) for c in chunks]
    assert got == [("block", "", 1, 4), ("function", "first", 7, 9), ("class", "Small", 12, 14)]
    assert chunks[1].text == "@decorator\ndef first(a, b):\n    return a + b"
    assert all(c.path == "m.py" for c in chunks)


def _large_class() -> str:
    methods = "".join(f"    def method_{i}(self):\n" + "".join(f"        x_{j} = {j}\n" for j in range(8)) + "\n"
                      for i in range(12))
    return 'class Big:\n    """Docs."""\n    size = 3\n\n' + methods


def test_a_large_class_is_split_by_method() -> None:
    text = _large_class()
    assert text.count("\n") > MAX_CHUNK_LINES
    chunks = file_facts("big.py", text).chunks
    assert chunks[0].kind == "class" and chunks[0].start_line == 1 and chunks[0].text.startswith("class Big:")
    assert "size = 3" in chunks[0].text and "def method_0" not in chunks[0].text
    methods = [c for c in chunks if c.kind == "method"]
    assert [c.name for c in methods] == [f"Big.method_{i}" for i in range(12)]
    lines = text.split("\n")
    for c in methods:  # each method chunk is exactly that method's lines
        assert lines[c.start_line - 1].strip().startswith("def ")
        assert c.end_line - c.start_line == 8


def test_a_function_longer_than_the_limit_becomes_windows_of_it() -> None:
    body = "".join(f"    step_{i} = {i}\n" for i in range(150))
    chunks = file_facts("long.py", "def long():\n" + body).chunks
    assert all(c.kind == "function" and c.name == "long" for c in chunks)
    assert [c.start_line for c in chunks] == [1, 1 + WINDOW_LINES, 1 + 2 * WINDOW_LINES, 1 + 3 * WINDOW_LINES]
    assert chunks[-1].end_line == 151


def test_other_files_fall_back_to_line_windows() -> None:
    text = "\n".join(f"line {i}" for i in range(1, 101))
    chunks = file_facts("notes.md", text).chunks
    assert [(c.kind, c.start_line, c.end_line) for c in chunks] == [("window", 1, 40), ("window", 41, 80), ("window", 81, 100)]
    assert chunks[1].text.split("\n")[0] == "line 41"
    assert line_windows("x.txt", "\n\n\n") == []  # blank windows are left out


def test_broken_python_still_chunks() -> None:
    chunks = file_facts("broken.py", "def ok():\n    return 1\n\ndef broken(:\n    pass\n").chunks
    assert chunks and chunks[0].name == "ok"
    assert "broken" in "".join(c.text for c in chunks)
