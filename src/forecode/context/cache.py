"""The index on disk: one SQLite file per workspace root, so a restart re-reads only the files
that changed.

Per file: its mtime, size and sha256, and (compressed) its chunks, their token ids, its
symbols and imports; or, for a file refused on its content (binary, too large, a private key),
only why. The token vocabulary is stored beside them, so the ids stay valid. A cache of another
FORMAT, or one SQLite cannot read, is discarded with a log line and rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forecode.context.chunks import Chunk
from forecode.context.facts import FileFacts
from forecode.context.imports import ImportedName
from forecode.context.search import SavedBase, TokenIds
from forecode.context.symbols import Symbol

FORMAT = 1
log = logging.getLogger("forecode.context.cache")


def default_cache_dir(root: Path) -> Path:
    """`~/.cache/forecode/index/<hash of the root>/` ($XDG_CACHE_HOME is honoured)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(str(root).encode("utf-8", errors="surrogateescape")).hexdigest()[:16]
    return base / "forecode" / "index" / digest


@dataclass(frozen=True)
class FileStamp:
    mtime_ns: int
    size: int
    sha256: str


@dataclass(frozen=True)
class CachedFile:
    stamp: FileStamp
    facts: FileFacts | None  # None: refused on its content, for `reason`
    ids: tuple[TokenIds, ...]  # token ids of each chunk
    reason: str = ""


class CorruptCache(Exception):
    pass


def _encode(facts: FileFacts, ids: Iterable[TokenIds]) -> tuple[bytes, bytes]:
    record = {
        "chunks": [[c.start_line, c.end_line, c.kind, c.name, c.text] for c in facts.chunks],
        "symbols": [[s.name, s.kind, s.signature, s.line, s.end_line, s.parent] for s in facts.symbols],
        "imports": [[i.local, i.module, i.name, i.level, i.line] for i in facts.imports],
    }
    arrays = list(ids)
    lengths = np.array([len(a) for a in arrays], dtype=np.int32)
    flat = np.concatenate([lengths, *arrays]) if arrays else lengths
    return (zlib.compress(json.dumps(record, ensure_ascii=False).encode("utf-8", errors="surrogatepass"), 1),
            zlib.compress(flat.astype("<i4").tobytes(), 1))


def _decode(path: str, blob: bytes, id_blob: bytes) -> tuple[FileFacts, tuple[TokenIds, ...]]:
    record = json.loads(zlib.decompress(blob).decode("utf-8", errors="surrogatepass"))
    chunks = tuple(Chunk(path, s, e, kind, name, text) for s, e, kind, name, text in record["chunks"])
    symbols = tuple(Symbol(n, kind, sig, path, line, end, parent) for n, kind, sig, line, end, parent in record["symbols"])
    imports = tuple(ImportedName(local, module, name, level, line) for local, module, name, level, line in record["imports"])
    flat = np.frombuffer(zlib.decompress(id_blob), dtype="<i4").astype(np.int32)
    n = len(chunks)
    lengths, rest = flat[:n], flat[n:]
    if len(lengths) != n or int(lengths.sum()) != len(rest):
        raise ValueError("token ids do not match the chunks")
    bounds = np.cumsum(lengths)
    ids = tuple(np.split(rest, bounds[:-1])) if n else ()
    return FileFacts(path, chunks, symbols, imports), ids


class IndexCache:
    """Opening never fails on a bad cache: it is removed and started afresh."""

    def __init__(self, folder: Path, root: Path) -> None:
        self.folder = folder
        self.path = folder / "index.sqlite"
        self.root = root
        self.rebuilt_because = ""  # why an existing cache was discarded, if it was
        folder.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open()
        except (sqlite3.DatabaseError, CorruptCache) as exc:
            self.rebuilt_because = str(exc)
            log.warning("index cache %s is unusable (%s); rebuilding it", self.path, exc)
            self._discard()
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        fresh = not self.path.exists()
        db = sqlite3.connect(self.path, check_same_thread=False)
        try:
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB)")
            db.execute("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, mtime_ns INTEGER, size INTEGER, "
                       "sha256 TEXT, reason TEXT, facts BLOB, ids BLOB)")
            found = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('format', 'root')").fetchall())
            if fresh or not found:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?), ('root', ?)", (str(FORMAT), str(self.root)))
                db.commit()
            elif found.get("format") != str(FORMAT):
                raise CorruptCache(f"format {found.get('format')!r}, this forecode reads format {FORMAT}")
            elif found.get("root") != str(self.root):
                raise CorruptCache(f"it belongs to {found.get('root')!r}, not {str(self.root)!r}")
        except BaseException:
            db.close()
            raise
        return db

    def _discard(self) -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        self._db.close()

    def reset(self) -> None:
        """Discard everything stored and start an empty cache (after a read found it corrupt)."""
        self._db.close()
        self._discard()
        self._db = self._open()

    def vocabulary(self) -> list[str]:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'vocab'").fetchone()
        if row is None:
            return []
        words: list[str] = zlib.decompress(row[0]).decode("utf-8").split("\n")
        return words if words != [""] else []

    def load(self) -> Iterator[tuple[str, CachedFile | None]]:
        """Every stored file; None for a row that cannot be decoded (that file is re-read)."""
        rows = self._db.execute("SELECT path, mtime_ns, size, sha256, reason, facts, ids FROM files")
        for path, mtime_ns, size, sha, reason, blob, id_blob in rows:
            stamp = FileStamp(mtime_ns, size, sha)
            if blob is None:
                yield path, CachedFile(stamp, None, (), reason or "refused")
                continue
            try:
                facts, ids = _decode(path, blob, id_blob)
            except (ValueError, KeyError, TypeError, zlib.error) as exc:
                log.warning("index cache row for %s is unreadable (%s); re-reading the file", path, exc)
                yield path, None
                continue
            yield path, CachedFile(stamp, facts, ids)

    def save(self, vocabulary: list[str], changed: dict[str, CachedFile], removed: Iterable[str],
             base: tuple[dict[str, str], SavedBase] | None = None) -> None:
        """Write `changed` rows, delete `removed` ones and store the vocabulary (and the built
        BM25 index with the sha256 of each of its files, if given), in one transaction."""
        with self._db:
            if base is not None:
                shas, saved = base
                layout = [[path, shas.get(path, ""), n] for path, n in saved.layout]
                arrays = io.BytesIO()
                np.savez(arrays, data=saved.data, indices=saved.indices, indptr=saved.indptr)
                record = {"layout": layout, "n_docs": saved.n_docs, "mean_length": saved.mean_length}
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('bm25', ?), ('bm25_arrays', ?)",
                                 (zlib.compress(json.dumps(record).encode("utf-8", errors="surrogatepass"), 1),
                                  arrays.getvalue()))
            self._db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in removed])
            rows = []
            for path, cached in changed.items():
                blob = id_blob = None
                if cached.facts is not None:
                    blob, id_blob = _encode(cached.facts, cached.ids)
                s = cached.stamp
                rows.append((path, s.mtime_ns, s.size, s.sha256, cached.reason, blob, id_blob))
            self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            vocab = zlib.compress("\n".join(vocabulary).encode("utf-8"), 1)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('vocab', ?)", (vocab,))

    def load_base(self) -> tuple[dict[str, str], SavedBase] | None:
        """The stored BM25 index and the sha256 of each of its files when it was built."""
        rows = dict(self._db.execute("SELECT key, value FROM meta WHERE key IN ('bm25', 'bm25_arrays')").fetchall())
        if len(rows) != 2:
            return None
        try:
            record = json.loads(zlib.decompress(rows["bm25"]).decode("utf-8", errors="surrogatepass"))
            with np.load(io.BytesIO(rows["bm25_arrays"])) as arrays:
                data, indices, indptr = arrays["data"], arrays["indices"], arrays["indptr"]
            layout = [(path, int(n)) for path, _, n in record["layout"]]
            shas = {path: sha for path, sha, _ in record["layout"]}
            return shas, SavedBase(layout, data.astype(np.float32), indices.astype(np.int32), indptr.astype(np.int64),
                                   int(record["n_docs"]), float(record["mean_length"]))
        except (ValueError, KeyError, TypeError, OSError, zlib.error) as exc:
            log.warning("the stored BM25 index in %s is unreadable (%s); rebuilding it", self.path, exc)
            return None

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())
