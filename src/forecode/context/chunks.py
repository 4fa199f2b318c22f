"""Chunks of a file for retrieval: functions, classes (large ones split by method) and the
top-level statements between them, from the Python syntax tree; line windows for other files
and for any piece longer than MAX_CHUNK_LINES."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node, Tree

from forecode.context.syntax import definition, last_row

MAX_CHUNK_LINES = 80  # a class or function up to this long is one chunk
WINDOW_LINES = 40  # the window of the fallback, and of the pieces of anything longer
BLOCK_LINES = 40  # consecutive top-level statements are grouped up to this many lines


@dataclass(frozen=True)
class Chunk:
    path: str  # POSIX, relative to the workspace root
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    kind: str  # "function" | "class" | "method" | "block" | "window"
    name: str  # `parse`, `Parser`, `Parser.feed`; "" for blocks and windows
    text: str

    def overlaps(self, start_line: int, end_line: int) -> bool:
        return self.start_line <= end_line and start_line <= self.end_line


def split_lines(text: str) -> list[str]:
    """Lines as tree-sitter counts rows: split at "\\n" only (a "\\r" stays on its line)."""
    return text.split("\n")


def line_windows(path: str, text: str, size: int = WINDOW_LINES) -> list[Chunk]:
    """Consecutive windows of `size` lines; windows of only blank lines are left out."""
    lines = split_lines(text)
    return list(_windows(path, lines, 0, len(lines) - 1, "window", "", size))


def _windows(path: str, lines: list[str], first: int, last: int, kind: str, name: str,
             size: int = WINDOW_LINES) -> Iterator[Chunk]:
    for start in range(first, last + 1, size):
        end = min(start + size - 1, last)
        text = "\n".join(lines[start : end + 1])
        if text.strip():
            yield Chunk(path, start + 1, end + 1, kind, name, text)


def _piece(path: str, lines: list[str], first: int, last: int, kind: str, name: str) -> Iterator[Chunk]:
    """One chunk for rows first..last, or windows of it when it is longer than MAX_CHUNK_LINES."""
    if last - first + 1 > MAX_CHUNK_LINES:
        yield from _windows(path, lines, first, last, kind, name)
        return
    text = "\n".join(lines[first : last + 1])
    if text.strip():
        yield Chunk(path, first + 1, last + 1, kind, name, text)


def _name(node: Node) -> str:
    name = definition(node).child_by_field_name("name")
    return "" if name is None or name.text is None else name.text.decode("utf-8", errors="replace")


def _is(node: Node, kind: str) -> bool:
    return definition(node).type == kind


def python_chunks(path: str, text: str, tree: Tree) -> list[Chunk]:
    lines = split_lines(text)
    out: list[Chunk] = []
    group: list[Node] = []  # consecutive top-level statements that are not definitions

    def flush() -> None:
        if group:
            out.extend(_piece(path, lines, group[0].start_point[0], last_row(group[-1]), "block", ""))
            group.clear()

    for node in tree.root_node.named_children:
        if _is(node, "function_definition"):
            flush()
            out.extend(_piece(path, lines, node.start_point[0], last_row(node), "function", _name(node)))
        elif _is(node, "class_definition"):
            flush()
            out.extend(_class_chunks(path, lines, node))
        else:
            if group and last_row(node) - group[0].start_point[0] + 1 > BLOCK_LINES:
                flush()
            group.append(node)
    flush()
    return out


def _class_chunks(path: str, lines: list[str], node: Node, outer: str = "") -> Iterator[Chunk]:
    """A class as one chunk if it fits; else its methods one by one, nested classes the same
    way, and the statements between them (the class line, docstring, attributes) as "class"."""
    name = outer + _name(node)
    first, last = node.start_point[0], last_row(node)
    body = definition(node).child_by_field_name("body")
    if last - first + 1 <= MAX_CHUNK_LINES or body is None:
        yield from _piece(path, lines, first, last, "class", name)
        return
    start: int | None = first  # the open run of class-level statements, from the class line
    end = first
    for child in body.named_children:
        if _is(child, "function_definition") or _is(child, "class_definition"):
            if start is not None:
                yield from _piece(path, lines, start, end, "class", name)
                start = None
            if _is(child, "function_definition"):
                yield from _piece(path, lines, child.start_point[0], last_row(child), "method", f"{name}.{_name(child)}")
            else:
                yield from _class_chunks(path, lines, child, name + ".")
        else:
            if start is None:
                start = child.start_point[0]
            end = last_row(child)
    if start is not None:
        yield from _piece(path, lines, start, end, "class", name)
