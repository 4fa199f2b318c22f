"""Parsing Python with tree-sitter: one parser per thread, and the node helpers the chunker,
the symbol table and the import graph share. Rows are 0-based here; the values built from them
(chunks, symbols, imports) count lines from 1."""

from __future__ import annotations

import threading

import tree_sitter_python
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree

PYTHON = Language(tree_sitter_python.language())
IMPORTS_QUERY = Query(PYTHON, "(import_statement) @import (import_from_statement) @import")
_local = threading.local()  # a tree-sitter Parser must not be shared between threads


def parse_python(source: bytes) -> Tree:
    parser: Parser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = Parser(PYTHON)
    return parser.parse(source)


def import_nodes(tree: Tree) -> list[Node]:
    """Every import statement in the file, at any depth, in source order."""
    found = QueryCursor(IMPORTS_QUERY).captures(tree.root_node).get("import", [])
    return sorted(found, key=lambda n: n.start_byte)


def last_row(node: Node) -> int:
    """The last row that holds text of `node` (a node ending in a newline ends at column 0)."""
    row, column = node.end_point
    return row - 1 if column == 0 and row > node.start_point[0] else row


def definition(node: Node) -> Node:
    """The function or class a `decorated_definition` wraps; any other node itself."""
    if node.type == "decorated_definition":
        inner = node.child_by_field_name("definition")
        if inner is not None:
            return inner
    return node


def node_text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


def header(node: Node, source: bytes) -> str:
    """`def f(a, b) -> int:` / `class C(Base):`: the definition up to its body, on one line."""
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None else node.end_byte
    text = source[node.start_byte : end].decode("utf-8", errors="replace")
    return " ".join(text.split())
