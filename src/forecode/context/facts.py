"""What the index keeps of one file: its chunks, and for Python its symbols and imports."""

from __future__ import annotations

from dataclasses import dataclass

from forecode.context.chunks import Chunk, line_windows, python_chunks
from forecode.context.imports import ImportedName, python_imports
from forecode.context.symbols import Symbol, python_symbols
from forecode.context.syntax import import_nodes, parse_python

PYTHON_SUFFIXES = (".py", ".pyi", ".pyw")


@dataclass(frozen=True)
class FileFacts:
    path: str
    chunks: tuple[Chunk, ...]
    symbols: tuple[Symbol, ...]
    imports: tuple[ImportedName, ...]


def file_facts(path: str, text: str) -> FileFacts:
    """Chunks, symbols and imports of `text`, the content of workspace file `path`."""
    if not path.endswith(PYTHON_SUFFIXES):
        return FileFacts(path, tuple(line_windows(path, text)), (), ())
    source = text.encode("utf-8", errors="surrogatepass")
    tree = parse_python(source)
    statements = import_nodes(tree)
    return FileFacts(path, tuple(python_chunks(path, text, tree)), tuple(python_symbols(path, source, tree, statements)),
                     tuple(python_imports(tree, statements)))
