"""Corpus shards: JSONL records, zstd-compressed, `shard-00000.jsonl.zst`, ... in order.

A record is `{text, path, language, source, package, version, license, sha256}`. Writing is
deterministic: the same records give byte-identical shards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import zstandard

from forecode.errors import InputError

SHARD_PATTERN = "shard-{:05d}.jsonl.zst"
MANIFEST_NAME = "manifest.json"
FILES_NAME = "files.jsonl.zst"
ZSTD_LEVEL = 3  # fast enough not to hold up a 200 MB build; shards shrink ~4x


def compress(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True).compress(data)


def json_line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


class ShardWriter:
    """Appends records and starts a new shard after `shard_bytes` uncompressed bytes."""

    def __init__(self, folder: Path, shard_bytes: int) -> None:
        self.folder = folder
        self.shard_bytes = shard_bytes
        self.paths: list[Path] = []
        self._lines: list[bytes] = []
        self._size = 0

    def write(self, record: dict[str, Any]) -> None:
        line = json_line(record)
        self._lines.append(line)
        self._size += len(line)
        if self._size >= self.shard_bytes:
            self._flush()

    def close(self) -> list[Path]:
        if self._lines:
            self._flush()
        return self.paths

    def _flush(self) -> None:
        path = self.folder / SHARD_PATTERN.format(len(self.paths))
        path.write_bytes(compress(b"".join(self._lines)))
        self.paths.append(path)
        self._lines, self._size = [], 0


def write_jsonl_zst(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_bytes(compress(b"".join(json_line(r) for r in records)))


def iter_jsonl_zst(path: Path) -> Iterator[dict[str, Any]]:
    """Stream the records of one zstd JSONL file without holding it all in memory."""
    with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as reader:
        pending = b""
        while chunk := reader.read(1 << 20):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line:
                    yield json.loads(line)
        if pending.strip():
            yield json.loads(pending)


def shard_paths(corpus_dir: Path) -> list[Path]:
    folder = Path(corpus_dir)
    if not (folder / MANIFEST_NAME).is_file():
        raise InputError(f"{str(corpus_dir)!r} is not a corpus folder (no {MANIFEST_NAME})")
    return sorted(folder.glob("shard-*.jsonl.zst"))


def iter_records(corpus_dir: Path | str) -> Iterator[dict[str, Any]]:
    """All records of a corpus, shard by shard, in the order they were written."""
    for path in shard_paths(Path(corpus_dir)):
        yield from iter_jsonl_zst(path)


def read_manifest(corpus_dir: Path | str) -> dict[str, Any]:
    path = Path(corpus_dir) / MANIFEST_NAME
    if not path.is_file():
        raise InputError(f"{str(corpus_dir)!r} is not a corpus folder (no {MANIFEST_NAME})")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest
