"""The import graph: the names each file imports, and the workspace files they resolve to.

Resolution follows Python's rules over the indexed paths: `import a.b` is `a/b.py` or
`a/b/__init__.py` under a source root (the workspace root, `src/`, and the folder above the
importing file's outermost package); `from .m import x` starts from the importing file's
package; `from pkg import name` is the submodule `pkg/name.py` when there is one, else `pkg`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Container, Iterator
from dataclasses import dataclass

from tree_sitter import Node, Tree

from forecode.context.syntax import import_nodes, node_text


@dataclass(frozen=True)
class ImportedName:
    """One name an import statement binds in the importing file."""

    local: str  # the name bound: `np` for `import numpy as np`, `a` for `import a.b`, "*" for a star
    module: str  # dotted module as written, without the leading dots ("" for `from . import x`)
    name: str  # what is taken from the module by a `from` import; "" for `import m`
    level: int  # leading dots of a relative import; 0 for absolute
    line: int  # 1-based

    @property
    def spelled(self) -> str:
        return "." * self.level + self.module


def python_imports(tree: Tree, statements: list[Node] | None = None) -> list[ImportedName]:
    """`statements`: the file's import statements, when the caller already has them."""
    out: list[ImportedName] = []
    for statement in import_nodes(tree) if statements is None else statements:
        out.extend(_statement(statement))
    return out


def _statement(node: Node) -> Iterator[ImportedName]:
    line = node.start_point[0] + 1
    if node.type == "import_statement":
        for child in node.named_children:
            if child.type == "dotted_name":
                module = node_text(child)
                yield ImportedName(module.split(".")[0], module, "", 0, line)
            elif child.type == "aliased_import":
                yield ImportedName(node_text(child.child_by_field_name("alias")),
                                   node_text(child.child_by_field_name("name")), "", 0, line)
        return
    source = node.child_by_field_name("module_name")
    level, module = 0, ""
    if source is not None and source.type == "relative_import":
        for part in source.named_children:
            if part.type == "import_prefix":
                level = node_text(part).count(".")
            elif part.type == "dotted_name":
                module = node_text(part)
    elif source is not None:
        module = node_text(source)
    for child in node.named_children:
        if child is source or (source is not None and child.start_byte == source.start_byte):
            continue
        if child.type == "wildcard_import":
            yield ImportedName("*", module, "*", level, line)
        elif child.type == "dotted_name":
            yield ImportedName(node_text(child), module, node_text(child), level, line)
        elif child.type == "aliased_import":
            yield ImportedName(node_text(child.child_by_field_name("alias")), module,
                               node_text(child.child_by_field_name("name")), level, line)


def package_root(path: str, files: Container[str]) -> str:
    """The folder above the outermost package holding `path` ("" for the workspace root)."""
    folder = posixpath.dirname(path)
    while folder and posixpath.join(folder, "__init__.py") in files:
        folder = posixpath.dirname(folder)
    return folder


def source_roots(path: str, files: Container[str]) -> list[str]:
    roots = [package_root(path, files), "", "src", "lib"]
    return list(dict.fromkeys(roots))


def module_file(module: str, root: str, files: Container[str]) -> str | None:
    """`a.b` under `root`: `a/b.py`, `a/b.pyi` or `a/b/__init__.py`, whichever is indexed."""
    base = posixpath.join(root, *module.split(".")) if module else root
    for candidate in (base + ".py", base + ".pyi", posixpath.join(base, "__init__.py")):
        if candidate in files:
            return candidate.removeprefix("./")
    return None


def resolve_module(importer: str, module: str, level: int, files: Container[str]) -> str | None:
    """The workspace file of `module` (with `level` leading dots) imported from `importer`."""
    if level:
        folder = posixpath.dirname(importer)
        for _ in range(level - 1):
            if not folder:
                return None
            folder = posixpath.dirname(folder)
        return module_file(module, folder, files)
    for root in source_roots(importer, files):
        found = module_file(module, root, files)
        if found is not None:
            return found
    return None


def resolve_import(importer: str, imported: ImportedName, files: Container[str]) -> str | None:
    """The workspace file that defines what `imported` binds: the submodule for
    `from pkg import mod`, else the module itself; None when it is outside the workspace."""
    if imported.name and imported.name != "*":
        sub = f"{imported.module}.{imported.name}" if imported.module else imported.name
        found = resolve_module(importer, sub, imported.level, files)
        if found is not None:
            return found
    if not imported.module and not imported.level:
        return None
    return resolve_module(importer, imported.module, imported.level, files)
