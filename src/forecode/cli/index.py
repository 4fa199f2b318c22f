"""`forecode index build | query`: the workspace index that retrieval draws snippets from."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from forecode.context.index import WorkspaceIndex
from forecode.context.retrieval import SOURCES
from forecode.documents import offset_of, read_source
from forecode.errors import InputError

_CACHE = click.option("--cache", type=click.Path(path_type=Path, file_okay=False), default=None,
                      help="Cache folder (default ~/.cache/forecode/index/<hash of the root>/).")


@click.group("index")
def index_group() -> None:
    """Index a workspace for retrieval, and query it."""


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


@index_group.command("build")
@click.argument("root", type=click.Path(path_type=Path))
@_CACHE
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def build(root: Path, cache: Path | None, as_json: bool) -> None:
    """Index ROOT (only files changed since the last build are read again)."""
    t0 = time.perf_counter()
    index = WorkspaceIndex.open(root, cache, progress=not as_json)
    stats = index.stats
    stats.seconds = time.perf_counter() - t0
    folder = index.cache_folder()
    index.close()
    if as_json:
        click.echo(json.dumps({"root": str(index.root), "cache": str(folder), **stats.as_dict()}))
        return
    refused = ", ".join(f"{n} {why}" for why, n in sorted(stats.refused.items()))
    click.echo(f"Indexed {index.root}: {stats.files} files, {stats.chunks} chunks, {stats.symbols} symbols "
               f"in {stats.seconds:.1f} s ({stats.parsed} parsed, {stats.cached} from the cache, {stats.removed} removed).")
    if refused:
        click.echo(f"Left out on their content: {refused}.")
    if stats.cache_rebuilt:
        click.echo(f"The old cache was rebuilt: {stats.cache_rebuilt}.")
    click.echo(f"Cache: {folder} ({_size(stats.cache_bytes)}).")


@index_group.command("query")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--file", "file", required=True, type=click.Path(path_type=Path), help="The file the cursor is in (absolute or relative to ROOT).")
@click.option("--line", required=True, type=click.IntRange(min=1), help="1-based line of the cursor.")
@click.option("--col", type=click.IntRange(min=1), default=None, help="1-based column (default: the end of the line).")
@click.option("--k", type=click.IntRange(min=1), default=5, show_default=True, help="BM25 snippets at most.")
@click.option("--source", "sources", multiple=True, type=click.Choice(SOURCES), help="Sources to use (default: all).")
@_CACHE
@click.option("--json", "as_json", is_flag=True, help="One JSON object per snippet.")
def query(root: Path, file: Path, line: int, col: int | None, k: int, sources: tuple[str, ...], cache: Path | None,
          as_json: bool) -> None:
    """Print the snippets retrieval finds for a cursor in FILE, and why each was chosen."""
    index = WorkspaceIndex.open(root, cache)
    try:
        path = file if file.is_absolute() else index.root / file
        text = read_source(path)
        lines = text.split("\n")
        if line > len(lines):
            raise InputError(f"line {line} is past the end of {file} ({len(lines)} lines)")
        column = col if col is not None else len(lines[line - 1].rstrip("\r")) + 1
        cursor = offset_of(text, line, column)
        t0 = time.perf_counter()
        snippets = index.snippets_at(text, cursor, str(path), k=k, sources=sources or SOURCES)
        ms = (time.perf_counter() - t0) * 1000
    finally:
        index.close()
    if as_json:
        for s in snippets:
            click.echo(json.dumps({"path": s.path, "start_line": s.start_line, "end_line": s.end_line, "source": s.source,
                                   "score": round(s.score, 3), "why": s.why, "text": s.text}))
        return
    if not snippets:
        click.echo("No snippets.")
    for s in snippets:
        click.echo(f"== {s.path}:{s.start_line}-{s.end_line} [{s.source}] {s.why}")
        click.echo(s.text)
    click.echo(f"({len(snippets)} snippets in {ms:.1f} ms)", err=True)
