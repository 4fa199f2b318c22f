"""Definitions of the names near the cursor: what the prefix imports and what the code just
before the cursor uses, looked up in the symbol table through the import graph.

A name near the cursor is looked up, nearest the cursor first, as:
1. a name the file imports (`from pkg.mod import parse`, `import pkg.mod as m` then `m.parse`),
   in the workspace file that import resolves to;
2. a name defined at module level of the file itself, outside the lines the prompt holds;
3. a name taken by a star import from a workspace module;
4. a function or class defined exactly once in the whole workspace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from forecode.context.imports import ImportedName
from forecode.context.retrieval import Snippet
from forecode.context.symbols import Symbol, SymbolTable
from forecode.context.tokens import identifier_words

BODY_LINES = 12  # of a function's definition shown: its def line and the first lines of its body
MAX_MEMBERS = 12  # method signatures shown for a class
_NAME_OR_ATTRIBUTE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\s*\.\s*([A-Za-z_][A-Za-z0-9_]*))?")
_USEFUL = ("function", "class", "method", "variable")


@dataclass(frozen=True)
class Found:
    symbol: Symbol
    why: str


def names_near(near: str) -> list[tuple[str, str]]:
    """(name, attribute) pairs in `near`, the one nearest its end first, each once."""
    pairs = [(m.group(1), m.group(2) or "") for m in _NAME_OR_ATTRIBUTE.finditer(near)]
    return list(dict.fromkeys(reversed(pairs)))


Resolve = Callable[[str | None, ImportedName], "str | None"]  # (importing file, import) -> workspace file
ImportsOf = Callable[[str], "tuple[ImportedName, ...]"]
REEXPORT_DEPTH = 3  # `from pkg import parse` where pkg/__init__.py itself imports it from pkg/parser.py


def find_definitions(
    near: str,
    path: str | None,
    imports: tuple[ImportedName, ...],
    resolve: Resolve,
    imports_of: ImportsOf,
    table: SymbolTable,
    window: tuple[int, int],
    limit: int,
) -> list[Found]:
    found: dict[tuple[str, int], Found] = {}
    bound = {i.local: i for i in imports if i.local != "*"}
    stars = [target for i in imports if i.local == "*" and (target := resolve(path, i)) is not None]
    for name, attribute in names_near(near):
        for hit in _lookup(name, attribute, path, bound, stars, resolve, imports_of, table, window):
            key = (hit.symbol.path, hit.symbol.line)
            if key not in found and hit.symbol.kind in _USEFUL:
                found[key] = hit
            if len(found) >= limit:
                return list(found.values())
    return list(found.values())


def _exported(name: str, target: str, resolve: Resolve, imports_of: ImportsOf, table: SymbolTable) -> list[Symbol]:
    """`name` defined at module level of `target`, or imported there from another workspace file."""
    for _ in range(REEXPORT_DEPTH):
        here = table.lookup(name, target, top_level=True)
        if here:
            return here
        again = next((i for i in imports_of(target) if i.local == name), None)
        if again is None:
            return []
        following = resolve(target, again)
        if following is None or following == target:
            return []
        name, target = again.name or name, following
        if _is_module_file(target, name):
            return []
    return []


def _lookup(name: str, attribute: str, path: str | None, bound: dict[str, ImportedName], stars: list[str],
            resolve: Resolve, imports_of: ImportsOf, table: SymbolTable,
            window: tuple[int, int]) -> Iterator[Found]:
    imported = bound.get(name)
    if imported is not None:
        target = resolve(path, imported)
        if target is None:
            return
        wanted = imported.name
        if attribute and (not wanted or _is_module_file(target, wanted)):
            wanted = attribute  # `m.parse` with `m` a module
        if wanted:
            for s in _exported(wanted, target, resolve, imports_of, table):
                yield Found(s, f"definition of `{wanted}`, imported from {target}")
        return
    if path is not None:
        here = [s for s in table.lookup(name, path, top_level=True) if not window[0] <= s.line <= window[1]]
        for s in here:
            yield Found(s, f"definition of `{name}` in this file")
        if here:
            return
    for target in stars:
        for s in table.lookup(name, target, top_level=True):
            yield Found(s, f"definition of `{name}`, star-imported from {target}")
            return
    if _distinctive(name):
        everywhere = [s for s in table.lookup(name, top_level=True) if s.kind in ("function", "class") and s.path != path]
        if len(everywhere) == 1:
            yield Found(everywhere[0], f"definition of `{name}`, the only one in the workspace")


def _distinctive(name: str) -> bool:
    """A name specific enough to look up across the workspace: `parse_header`, `HTTPClient`,
    not `run` or `arguments`."""
    return len(name) >= 4 and (len(identifier_words(name)) > 1 or name[0].isupper())


def _is_module_file(target: str, name: str) -> bool:
    stem = target.rsplit("/", 1)[-1]
    return stem in (f"{name}.py", f"{name}.pyi") or target.endswith(f"{name}/__init__.py")


def definition_snippet(found: Found, lines: Callable[[str, int, int], list[str]], table: SymbolTable,
                       score: float) -> Snippet:
    """The signature and a bounded body: a function's first BODY_LINES lines; a class's
    header and its methods' signatures; a variable's line."""
    s = found.symbol
    if s.kind == "class":
        head = lines(s.path, s.line, min(s.end_line, s.line + 2))
        members = table.members(s.path, s.qualified_name)
        body_start = members[0].line if members else s.end_line + 1
        head = head[: max(1, body_start - s.line)]
        indent = " " * 4
        shown = [indent + m.signature + " ..." for m in members[:MAX_MEMBERS]]
        text = "\n".join([*head, *shown])
        end = s.end_line
    else:
        end = min(s.end_line, s.line + BODY_LINES - 1)
        text = "\n".join(lines(s.path, s.line, end))
        if not text.strip():
            text = s.signature
    return Snippet(s.path, s.line, end, text, score, "definition", found.why)
