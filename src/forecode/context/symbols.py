"""The symbol table: where names are defined (functions, classes, methods, module-level
variables, import aliases), with the line that declares them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tree_sitter import Node, Tree

from forecode.context.syntax import definition, header, import_nodes, last_row, node_text

MAX_SIGNATURE_CHARS = 240
# Module-level compound statements whose bodies still define module-level names
# (`if sys.platform == ...: def f(): ...`, `try: import x except ImportError: ...`).
_TRANSPARENT = frozenset({"if_statement", "else_clause", "elif_clause", "try_statement", "except_clause",
                          "finally_clause", "with_statement", "block"})


@dataclass(frozen=True)
class Symbol:
    name: str  # the bare name: `feed`, not `Parser.feed`
    kind: str  # "function" | "class" | "method" | "variable" | "import alias"
    signature: str  # the def / class line up to its body, or the assignment / import line
    path: str  # POSIX, relative to the workspace root
    line: int  # 1-based line of the `def` / `class` / assignment
    end_line: int  # 1-based last line of the definition
    parent: str = ""  # the enclosing class of a method ("Outer.Inner" when nested)

    @property
    def qualified_name(self) -> str:
        return f"{self.parent}.{self.name}" if self.parent else self.name


def python_symbols(path: str, source: bytes, tree: Tree, imports: list[Node] | None = None) -> list[Symbol]:
    """`imports`: the file's import statements, when the caller already has them."""
    found = list(_module_level(path, source, tree.root_node))
    found.extend(_aliases(path, import_nodes(tree) if imports is None else imports))
    return sorted(found, key=lambda s: (s.line, s.name))


def _module_level(path: str, source: bytes, node: Node) -> Iterator[Symbol]:
    for child in node.named_children:
        inner = definition(child)
        if inner.type == "function_definition":
            yield _definition_symbol(path, source, inner, child, "function", "")
        elif inner.type == "class_definition":
            yield from _class(path, source, inner, child, "")
        elif child.type == "expression_statement":
            yield from _assignment(path, child)
        elif child.type in _TRANSPARENT:
            yield from _module_level(path, source, child)


def _definition_symbol(path: str, source: bytes, inner: Node, outer: Node, kind: str, parent: str) -> Symbol:
    return Symbol(node_text(inner.child_by_field_name("name")), kind, header(inner, source)[:MAX_SIGNATURE_CHARS],
                  path, inner.start_point[0] + 1, last_row(outer) + 1, parent)


def _class(path: str, source: bytes, inner: Node, outer: Node, parent: str) -> Iterator[Symbol]:
    symbol = _definition_symbol(path, source, inner, outer, "class", parent)
    yield symbol
    body = inner.child_by_field_name("body")
    if body is None:
        return
    for child in body.named_children:
        member = definition(child)
        if member.type == "function_definition":
            yield _definition_symbol(path, source, member, child, "method", symbol.qualified_name)
        elif member.type == "class_definition":
            yield from _class(path, source, member, child, symbol.qualified_name)


def _assignment(path: str, statement: Node) -> Iterator[Symbol]:
    assignment = statement.named_children[0] if statement.named_children else None
    if assignment is None or assignment.type != "assignment":
        return
    target = assignment.child_by_field_name("left")
    if target is None or target.type != "identifier":
        return
    line = node_text(statement).split("\n", 1)[0]
    yield Symbol(node_text(target), "variable", line[:MAX_SIGNATURE_CHARS], path, statement.start_point[0] + 1,
                 last_row(statement) + 1)


def _aliases(path: str, statements: list[Node]) -> Iterator[Symbol]:
    for statement in statements:
        for child in statement.named_children:
            if child.type == "aliased_import":
                alias = node_text(child.child_by_field_name("alias"))
                line = " ".join(node_text(statement).split())
                yield Symbol(alias, "import alias", line[:MAX_SIGNATURE_CHARS], path, child.start_point[0] + 1,
                             child.start_point[0] + 1)


class SymbolTable:
    """Definitions by name and by file, kept current as files change."""

    def __init__(self) -> None:
        self.by_name: dict[str, list[Symbol]] = {}
        self.by_path: dict[str, tuple[Symbol, ...]] = {}

    def set_file(self, path: str, symbols: tuple[Symbol, ...]) -> None:
        self.remove_file(path)
        if not symbols:
            return
        self.by_path[path] = symbols
        for s in symbols:
            self.by_name.setdefault(s.name, []).append(s)

    def remove_file(self, path: str) -> None:
        for s in self.by_path.pop(path, ()):
            same = self.by_name.get(s.name)
            if same is not None:
                same[:] = [o for o in same if o.path != path]
                if not same:
                    del self.by_name[s.name]

    def lookup(self, name: str, path: str | None = None, top_level: bool = False) -> list[Symbol]:
        """Definitions of `name` (in `path` only, if given; module-level only, if `top_level`)."""
        found: Sequence[Symbol] = self.by_name.get(name, [])
        if path is not None:  # a common name has thousands of definitions, a file a few dozen symbols
            in_file = self.by_path.get(path, ())
            found = [s for s in in_file if s.name == name] if len(in_file) < len(found) else [s for s in found if s.path == path]
        return [s for s in found if not (top_level and s.parent)]

    def members(self, path: str, parent: str) -> list[Symbol]:
        return [s for s in self.by_path.get(path, ()) if s.parent == parent]

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_path.values())
