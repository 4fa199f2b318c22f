"""Content fingerprints of a corpus: one short hash per kept file, so anyone can check that a
file (an evaluation source, a HumanEval problem) did not go into training without the corpus.

A fingerprint is the first 16 hex digits (64 bits) of the exact-duplicate key
(`dedup.exact_key`: sha256 of the text with line endings and trailing blanks normalised), so a
copy that differs only in whitespace at line ends still matches. The file is zstd text: a header
line, then the sorted fingerprints, one per line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import zstandard

from forecode.corpus.dedup import exact_key
from forecode.corpus.shards import iter_records
from forecode.errors import InputError

HEADER = "forecode-corpus-fingerprints/1 sha256(normalize_for_dedup(text))[:16]"
DIGITS = 16


def fingerprint(text: str) -> str:
    return exact_key(text)[:DIGITS]


def corpus_fingerprints(corpus_dir: str | Path) -> list[str]:
    """Sorted distinct fingerprints of every document in the corpus."""
    return sorted({fingerprint(rec["text"]) for rec in iter_records(corpus_dir)})


def write_fingerprints(path: str | Path, prints: Iterable[str]) -> int:
    lines = sorted(set(prints))
    data = "\n".join([HEADER, *lines]) + "\n"
    Path(path).write_bytes(zstandard.ZstdCompressor(level=19).compress(data.encode()))
    return len(lines)


def read_fingerprints(path: str | Path) -> frozenset[str]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"fingerprint file {path} does not exist")
    try:
        text = zstandard.ZstdDecompressor().decompress(path.read_bytes()).decode()
    except (zstandard.ZstdError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a zstd fingerprint file: {exc}") from None
    header, *lines = text.splitlines()
    if header != HEADER:
        raise InputError(f"{path} starts with {header[:60]!r}, not the fingerprint header {HEADER!r}")
    return frozenset(lines)
