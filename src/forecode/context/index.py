"""The workspace index: chunks, symbols and imports of a repository's files, kept current as
files change, persisted under a cache folder, and searched for the snippets around a cursor.

    index = WorkspaceIndex.open(root)              # reads only what changed since the last run
    index.snippets_at(document, cursor, "pkg/app.py", k=5, window=(1, 120))
    index.update_document("pkg/app.py", text)      # an editor's didOpen / didChange
    index.update_file("pkg/app.py")                # didSave, or a watcher saw it change
    index.save()

Paths are POSIX and relative to the root; methods also take absolute paths inside it.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from forecode.context.cache import CachedFile, FileStamp, IndexCache, default_cache_dir
from forecode.context.chunks import Chunk
from forecode.context.definitions import definition_snippet, find_definitions
from forecode.context.facts import FileFacts, file_facts
from forecode.context.files import WorkspaceFiles, readable_text, refusal_by_name, screened_text
from forecode.context.imports import ImportedName, python_imports, resolve_import
from forecode.context.recent import RecentChunks
from forecode.context.retrieval import SOURCES, Snippet, SnippetSelection, cursor_context
from forecode.context.search import ChunkSearch, CountedChunk, SavedBase, TokenIds, counted
from forecode.context.symbols import Symbol, SymbolTable
from forecode.context.syntax import parse_python
from forecode.context.tokens import code_tokens
from forecode.errors import InputError

log = logging.getLogger("forecode.context.index")
MAX_DEFINITIONS = 4
RECENT_SNIPPETS = 2
RELATIVE_CACHE = 4096  # paths whose relative() answer is kept


@dataclass
class IndexStats:
    files: int = 0  # indexed files
    chunks: int = 0
    symbols: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # files left out on their content, by why
    read: int = 0  # files read from disk by the last refresh (the rest came from the cache)
    parsed: int = 0  # files chunked by the last refresh (read but unchanged ones are not)
    cached: int = 0  # files taken from the cache by the last refresh
    removed: int = 0  # files gone since the cache was written
    seconds: float = 0.0
    cache_bytes: int = 0
    cache_rebuilt: str = ""  # why the cache was discarded, if it was

    def as_dict(self) -> dict[str, object]:
        return {"files": self.files, "chunks": self.chunks, "symbols": self.symbols, "refused": dict(self.refused),
                "read": self.read, "parsed": self.parsed, "cached": self.cached, "removed": self.removed,
                "seconds": round(self.seconds, 3), "cache_bytes": self.cache_bytes, "cache_rebuilt": self.cache_rebuilt}


@dataclass
class _Entry:
    stamp: FileStamp | None  # None: the content came from an editor, not the disk
    facts: FileFacts | None  # None: refused on its content
    ids: tuple[TokenIds, ...] = ()
    reason: str = ""


class WorkspaceIndex:
    def __init__(self, root: Path, cache_dir: Path | None = None, persist: bool = True) -> None:
        root = root.expanduser()
        if not root.exists():
            raise InputError(f"workspace root {str(root)!r} does not exist")
        if not root.is_dir():
            raise InputError(f"workspace root {str(root)!r} is not a folder")
        self.root = root.resolve()
        self._relative: dict[str, str | None] = {}  # relative()'s answers: a request asks several times
        self.files = WorkspaceFiles(self.root)
        self.cache: IndexCache | None = None
        if persist:
            self.cache = IndexCache(cache_dir or default_cache_dir(self.root), self.root)
        self.search = ChunkSearch(self.cache.vocabulary() if self.cache is not None else ())
        self.symbols = SymbolTable()
        self.recent = RecentChunks()
        self.stats = IndexStats(cache_rebuilt=self.cache.rebuilt_because if self.cache else "")
        self._entries: dict[str, _Entry] = {}
        self._dirty: set[str] = set()  # to write to the cache
        self._deleted: set[str] = set()  # to delete from it
        self._resolved: dict[tuple[str | None, ImportedName], str | None] = {}
        self._lock = threading.RLock()
        self._loaded = False
        self._loaded_files = False
        self._saved_rebuilds = 0  # search.rebuilds when the built index was last saved
        self._last_document: tuple[bytes, tuple[ImportedName, ...]] = (b"", ())
        # The entry each editor document was last indexed as, by its text's hash: a client that
        # sends the same text again (every HTTP request carries the whole document) costs a lookup.
        self._documents: dict[str, tuple[bytes, _Entry, tuple[CountedChunk, ...]]] = {}

    @classmethod
    def open(cls, root: Path, cache_dir: Path | None = None, persist: bool = True,
             progress: bool = False) -> WorkspaceIndex:
        """The index of `root`, brought up to date (from the cache where files did not change)."""
        index = cls(root, cache_dir, persist)
        index.refresh(progress=progress)
        return index

    # -- paths ----------------------------------------------------------------------------

    def relative(self, path: str | Path) -> str | None:
        """`path` as the index names it (POSIX, relative to the root), or None outside the root."""
        key = str(path)
        if key not in self._relative:
            if len(self._relative) >= RELATIVE_CACHE:
                self._relative.clear()
            self._relative[key] = self._relative_now(path)
        return self._relative[key]

    def _relative_now(self, path: str | Path) -> str | None:
        p = Path(path)
        if not p.is_absolute():
            rel = p.as_posix()
            return None if rel.startswith("../") or rel == ".." else rel.removeprefix("./")
        try:
            return p.relative_to(self.root).as_posix()
        except ValueError:
            pass
        try:  # through symbolic links (resolve() costs a system call per component: only when needed)
            return p.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    @property
    def paths(self) -> list[str]:
        return sorted(p for p, e in self._entries.items() if e.facts is not None)

    def chunks(self, path: str | None = None) -> list[Chunk]:
        """The chunks of one indexed file, or of all of them."""
        with self._lock:
            paths = [path] if path is not None else self.paths
            return [d.chunk for p in paths for d in self.search.docs.get(p, ())]

    # -- building and refreshing ---------------------------------------------------------

    def _load_cache(self) -> dict[str, CachedFile | None]:
        if self.cache is None or self._loaded:
            return {}
        self._loaded = True
        try:
            return dict(self.cache.load())
        except sqlite3.DatabaseError as exc:
            log.warning("index cache %s is unreadable (%s); rebuilding it", self.cache.path, exc)
            self.stats.cache_rebuilt = str(exc)
            self.cache.reset()
            return {}

    def _load_base(self) -> tuple[dict[str, str], SavedBase] | None:
        if self.cache is None:
            return None
        try:
            return self.cache.load_base()
        except sqlite3.DatabaseError as exc:
            log.warning("the stored BM25 index in %s is unreadable (%s); rebuilding it", self.cache.path, exc)
            return None

    def _restore(self, shas: dict[str, str], saved: SavedBase) -> None:
        def unchanged(path: str) -> bool:
            entry = self._entries.get(path)
            return entry is not None and entry.stamp is not None and entry.stamp.sha256 == shas.get(path)

        try:
            live = self.search.restore(saved, unchanged)
        except ValueError as exc:
            log.warning("the stored BM25 index does not fit the cache (%s); rebuilding it", exc)
            self.search.rebuild()
            return
        self._saved_rebuilds = self.search.rebuilds
        log.debug("restored the BM25 index: %d of %d chunks live", live, saved.n_docs)

    def cache_folder(self) -> Path:
        return default_cache_dir(self.root) if self.cache is None else self.cache.folder

    def refresh(self, progress: bool = False, save: bool = True) -> IndexStats:
        """List the workspace, take unchanged files from memory or the cache, read the rest,
        drop the files that are gone; then rebuild BM25 if anything changed, and save."""
        with self._lock:
            t0 = time.perf_counter()
            restoring = None
            if self.cache is not None and not self._loaded:
                cached = self._load_cache()
                restoring = self._load_base()
            else:
                cached = {}
            if self._loaded_files:
                self.files = WorkspaceFiles(self.root)  # .gitignore / .forecodeignore may have changed
            self._loaded_files = True
            listed = self.files.listing()
            stats = self.stats
            stats.read = stats.parsed = stats.cached = stats.removed = 0
            before = set(self._entries)
            changed = False
            for rel in tqdm(listed, desc="indexing", unit="file", disable=not progress, leave=False):
                entry = self._entries.get(rel)
                old = entry if entry is not None and entry.stamp is not None else None
                if old is None and rel in cached:
                    c = cached[rel]
                    if c is not None:
                        old = _Entry(c.stamp, c.facts, c.ids, c.reason)
                result = self._refresh_file(rel, old)
                if result == "cached" and entry is None:
                    assert old is not None
                    self._install(rel, old, save=False)
                    stats.cached += 1
                changed |= result != "cached" or entry is None
            gone = (before | set(cached)) - set(listed)
            for rel in gone:
                if rel in self._entries and self._entries[rel].stamp is None:
                    continue  # an editor's document that is not on disk (yet)
                self._drop(rel)
                stats.removed += 1
                changed = True
            if restoring is not None:
                self._restore(*restoring)
            self.search.settle()  # the overlay, or a rebuild: here rather than in the first query
            if save:
                self.save()
            stats.seconds = time.perf_counter() - t0
            self._count()
            return stats

    def _count(self) -> None:
        stats = self.stats
        live = [e for e in self._entries.values() if e.facts is not None]
        stats.files = len(live)
        stats.chunks = len(self.search)
        stats.symbols = len(self.symbols)
        stats.refused = Counter(e.reason for e in self._entries.values() if e.facts is None)
        stats.cache_bytes = self.cache.size_bytes() if self.cache is not None else 0

    def _refresh_file(self, rel: str, old: _Entry | None) -> str:
        """"cached" if `old` still holds, else re-read ("read") and re-chunked ("parsed")."""
        path = self.root / rel
        try:
            st = path.stat()
        except OSError:
            return "gone"
        if old is not None and old.stamp is not None and (old.stamp.mtime_ns, old.stamp.size) == (st.st_mtime_ns, st.st_size):
            return "cached"
        try:
            data = path.read_bytes()
        except OSError as exc:
            log.warning("cannot read %s: %s", path, exc.strerror)
            return "gone"
        self.stats.read += 1
        stamp = FileStamp(st.st_mtime_ns, st.st_size, hashlib.sha256(data).hexdigest())
        if old is not None and old.stamp is not None and old.stamp.sha256 == stamp.sha256:
            self._install(rel, _Entry(stamp, old.facts, old.ids, old.reason))  # touched, not changed
            return "read"
        text, why = readable_text(data)
        self._install(rel, self._entry(rel, text, why, stamp))
        self.stats.parsed += 1
        return "parsed"

    def _entry(self, rel: str, text: str | None, why: str, stamp: FileStamp | None) -> _Entry:
        if text is None:
            return _Entry(stamp, None, (), why)
        facts = file_facts(rel, text)
        ids = tuple(self.search.token_ids(code_tokens(c.text)) for c in facts.chunks)
        return _Entry(stamp, facts, ids)

    def _install(self, rel: str, entry: _Entry, save: bool = True) -> None:
        files_changed = (rel in self._entries) != (entry.facts is not None) or (
            rel in self._entries and self._entries[rel].facts is None)
        self._entries[rel] = entry
        if entry.facts is None:
            self.search.remove_file(rel)
            self.symbols.remove_file(rel)
        else:
            self.search.set_file(rel, entry.facts.chunks, entry.ids)
            self.symbols.set_file(rel, entry.facts.symbols)
            if rel in self.recent:
                self.recent.refresh(rel, counted(entry.facts.chunks, entry.ids))
        if files_changed:
            self._resolved.clear()
        else:
            self._resolved = {k: v for k, v in self._resolved.items() if k[0] != rel}
        if save and entry.stamp is not None:
            self._dirty.add(rel)
            self._deleted.discard(rel)

    def _drop(self, rel: str) -> None:
        self._entries.pop(rel, None)
        self.search.remove_file(rel)
        self.symbols.remove_file(rel)
        self.recent.forget(rel)
        self._resolved.clear()
        self._dirty.discard(rel)
        self._deleted.add(rel)

    # -- incremental updates -------------------------------------------------------------

    def update_file(self, path: str | Path) -> bool:
        """Re-read one file from disk (didSave, or a watcher saw it change); a file that is
        gone is removed. False when the file is not one the index takes."""
        with self._lock:
            rel = self.relative(path)
            if rel is None or refusal_by_name(rel) is not None or self.files.is_ignored(rel):
                return False
            if not (self.root / rel).is_file():
                self.remove_file(rel)
                return False
            entry = self._entries.get(rel)
            self._refresh_file(rel, entry if entry is not None and entry.stamp is not None else None)
            return self._entries.get(rel, _Entry(None, None)).facts is not None

    def remove_file(self, path: str | Path) -> None:
        with self._lock:
            rel = self.relative(path)
            if rel is not None and rel in self._entries:
                self._drop(rel)

    def update_document(self, path: str | Path, text: str) -> bool:
        """An editor's text for `path` (didOpen / didChange): indexed in place of the file on
        disk (not written to the cache), and noted as recent. Documents outside the root go
        only to the recent ring. False when the document is not one the index takes."""
        with self._lock:
            rel = self.relative(path)
            key = rel if rel is not None else Path(path).as_posix()
            if refusal_by_name(key) is not None or (rel is not None and self.files.is_ignored(rel)):
                return False
            digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
            known = self._documents.get(key)
            if known is not None and known[0] == digest and (rel is None or self._entries.get(rel) is known[1]):
                self.recent.note(key, known[2])
                return True
            screened, why = screened_text(text)
            if screened is None:
                self.recent.forget(key)
                if rel is not None:
                    self._install(rel, _Entry(None, None, (), why))
                return False
            entry = self._entry(key, screened, "", None)
            assert entry.facts is not None
            if rel is not None:
                self._install(rel, entry)
            chunks = counted(entry.facts.chunks, entry.ids)
            self._documents[key] = (digest, entry, chunks)
            self.recent.note(key, chunks)
            return True

    def note_recent(self, path: str | Path) -> None:
        """`path` was opened or looked at: its chunks join the recent ring."""
        with self._lock:
            rel = self.relative(path)
            entry = self._entries.get(rel) if rel is not None else None
            if rel is not None and entry is not None and entry.facts is not None:
                self.recent.note(rel, counted(entry.facts.chunks, entry.ids))

    def save(self) -> None:
        """Write the files that changed since the last save (editors' documents are not)."""
        with self._lock:
            if self.cache is None:
                return
            changed = {}
            for rel in self._dirty:
                e = self._entries.get(rel)
                if e is not None and e.stamp is not None:
                    changed[rel] = CachedFile(e.stamp, e.facts, e.ids, e.reason)
            base = None
            if self.search.rebuilds != self._saved_rebuilds:
                shas = {p: e.stamp.sha256 for p, e in self._entries.items()
                        if e.stamp is not None and self.search.live_in_base(p)}
                base = (shas, self.search.saved_base())
            self.cache.save(list(self.search.vocab), changed, self._deleted, base)
            self._saved_rebuilds = self.search.rebuilds
            self._dirty.clear()
            self._deleted.clear()

    def close(self) -> None:
        with self._lock:
            self.save()
            if self.cache is not None:
                self.cache.close()

    # -- the import graph ----------------------------------------------------------------

    def imports_of(self, path: str) -> tuple[ImportedName, ...]:
        entry = self._entries.get(path)
        return entry.facts.imports if entry is not None and entry.facts is not None else ()

    def resolve(self, importer: str | None, imported: ImportedName) -> str | None:
        """The workspace file an import of `importer` refers to, or None (outside the workspace)."""
        key = (importer, imported)
        if key not in self._resolved:
            self._resolved[key] = resolve_import(importer or "", imported, self._live)
        return self._resolved[key]

    @property
    def _live(self) -> _LiveFiles:
        return _LiveFiles(self._entries)

    def import_graph(self) -> dict[str, list[str]]:
        """Each Python file's imports that resolve to workspace files."""
        with self._lock:
            graph = {}
            for rel in self.paths:
                targets = {t for i in self.imports_of(rel) if (t := self.resolve(rel, i)) is not None}
                if targets:
                    graph[rel] = sorted(targets)
            return graph

    def lookup(self, name: str) -> list[Symbol]:
        return list(self.symbols.lookup(name))

    # -- retrieval -----------------------------------------------------------------------

    def retrieve(self, query_text: str, path: str | None = None, k: int = 5,
                 exclude: tuple[str, int, int] | None = None) -> list[Snippet]:
        """The `k` chunks BM25 ranks best for `query_text`, minus those of `exclude`'s path
        overlapping its lines (1-based, inclusive)."""
        with self._lock:
            if exclude is not None:
                rel = self.relative(exclude[0])
                exclude = (rel or exclude[0], exclude[1], exclude[2])
            hits = self.search.search(code_tokens(query_text), k, exclude)
            return [Snippet(h.chunk.path, h.chunk.start_line, h.chunk.end_line, h.chunk.text, h.score, "bm25",
                            f"bm25 {h.score:.2f}: shares identifiers with the code at the cursor" +
                            (f" ({h.chunk.kind} {h.chunk.name})" if h.chunk.name else "")) for h in hits]

    def definitions(self, near: str, path: str | None, window: tuple[int, int] = (0, 0),
                    document: str | None = None, limit: int = MAX_DEFINITIONS) -> list[Snippet]:
        """Definitions of the names in `near` (the code just before the cursor) that `path`
        imports or defines; `document` supplies the imports when `path` is not indexed."""
        with self._lock:
            rel = self.relative(path) if path is not None else None
            imports = self.imports_of(rel) if rel is not None else ()
            if rel not in self._entries and document is not None:
                imports = self._document_imports(document)
            found = find_definitions(near, rel, imports, self.resolve, self.imports_of, self.symbols, window, limit)
            return [definition_snippet(f, self._lines, self.symbols, float(len(found) - i)) for i, f in enumerate(found)]

    def _document_imports(self, document: str) -> tuple[ImportedName, ...]:
        """Imports of a document that is not indexed (the last one's are kept: a cursor moves
        in the same document many times)."""
        key = hashlib.sha1(document.encode("utf-8", errors="surrogatepass")).digest()
        if self._last_document[0] != key:
            tree = parse_python(document.encode("utf-8", errors="surrogatepass"))
            self._last_document = (key, tuple(python_imports(tree)))
        return self._last_document[1]

    def recent_snippets(self, query_text: str, path: str | None, window: tuple[int, int], k: int = RECENT_SNIPPETS) -> list[Snippet]:
        with self._lock:
            rel = self.relative(path) if path is not None else None
            key = rel if rel is not None else (Path(path).as_posix() if path is not None else None)
            docs = [d for d in self.recent.chunks() if not (d.chunk.path == key and d.chunk.overlaps(*window))]
            hits = self.search.score(code_tokens(query_text), docs)[:k]
            return [Snippet(h.chunk.path, h.chunk.start_line, h.chunk.end_line, h.chunk.text, h.score, "recent",
                            f"recently opened or edited, bm25 {h.score:.2f}") for h in hits]

    def snippets_at(self, document: str, cursor: int, path: str | None, k: int = 5,
                    window: tuple[int, int] | None = None, sources: tuple[str, ...] = SOURCES) -> list[Snippet]:
        """Definitions first, then BM25, then recent documents; nothing overlapping `window`
        (or an earlier snippet) twice."""
        return self.select_snippets(document, cursor, path, k, window, sources).kept

    def select_snippets(self, document: str, cursor: int, path: str | None, k: int = 5,
                        window: tuple[int, int] | None = None, sources: tuple[str, ...] = SOURCES) -> SnippetSelection:
        """`snippets_at`, with the snippets it left out and why ("overlap": with `window`;
        "duplicate": with an earlier snippet; "k": past the k best of BM25). BM25 never returns
        chunks of `path` overlapping `window`, so those do not show among the left out."""
        if not 0 <= cursor <= len(document):
            raise InputError(f"cursor {cursor} is outside the document (0..{len(document)})")
        ctx = cursor_context(document, cursor, window)
        rel = self.relative(path) if path is not None else None
        out: list[Snippet] = []
        if "definition" in sources:
            out.extend(self.definitions(ctx.near, path, ctx.window, document))
        if "bm25" in sources:
            exclude = (rel, *ctx.window) if rel is not None else None
            out.extend(self.retrieve(ctx.query, path, k + len(out), exclude))
        if "recent" in sources:
            out.extend(self.recent_snippets(ctx.query, path, ctx.window))
        kept: list[Snippet] = []
        dropped: list[tuple[Snippet, str]] = []
        for s in out:
            if rel is not None and s.overlaps(rel, *ctx.window):
                dropped.append((s, "overlap"))
            elif any(s.overlaps(o.path, o.start_line, o.end_line) for o in kept):
                dropped.append((s, "duplicate"))
            elif s.source == "bm25" and sum(o.source == "bm25" for o in kept) >= k:
                dropped.append((s, "k"))
            else:
                kept.append(s)
        return SnippetSelection(kept, dropped)

    def _lines(self, path: str, start: int, end: int) -> list[str]:
        """Lines start..end (1-based) of an indexed file, from its chunks (blank between them)."""
        entry = self._entries.get(path)
        lines = [""] * (end - start + 1)
        if entry is None or entry.facts is None:
            return lines
        for c in entry.facts.chunks:
            if c.overlaps(start, end):
                for n, text in enumerate(c.text.split("\n"), start=c.start_line):
                    if start <= n <= end:
                        lines[n - start] = text
        return lines


class _LiveFiles:
    """The indexed paths, as a container for import resolution."""

    def __init__(self, entries: dict[str, _Entry]) -> None:
        self._entries = entries

    def __contains__(self, path: object) -> bool:
        entry = self._entries.get(path) if isinstance(path, str) else None
        return entry is not None and entry.facts is not None

