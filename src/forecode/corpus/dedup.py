"""Exact and near-duplicate detection.

Exact: sha256 of the normalised text (line endings, trailing whitespace, surrounding blank lines).
Near: MinHash over word 5-gram shingles, indexed with MinHashLSH; a candidate counts as a
duplicate when its estimated Jaccard similarity to an already kept file reaches the threshold.
First seen wins, so callers feed files in a deterministic order.
"""

from __future__ import annotations

import hashlib
import re
import zlib

import numpy as np
import numpy.typing as npt
from datasketch import MinHash, MinHashLSH

NUM_PERM = 128
SHINGLE_SIZE = 5
MINHASH_SEED = 1
NEAR_DUP_METHOD = f"MinHash ({NUM_PERM} permutations, seed {MINHASH_SEED}) over word {SHINGLE_SIZE}-gram shingles of \\w+ tokens, MinHashLSH candidates verified by estimated Jaccard"

_TOKEN = re.compile(r"\w+")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_CHUNK = 8192  # shingles per MinHash batch: bounds memory at (CHUNK, NUM_PERM) uint64
# Odd 64-bit multiplier for rolling shingle hashes; arithmetic wraps modulo 2**64.
_MIX = np.uint64(0x9E3779B97F4A7C15)

HashValues = npt.NDArray[np.unsignedinteger[npt.NBitBase]]
_SCHEME = str(MinHash(num_perm=1).scheme)
# Drawing the permutations costs ~1 ms; do it once, not per file.
_PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED).permutations


def normalize_for_dedup(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _TRAILING_SPACE.sub("", text).strip("\n")


def exact_key(text: str) -> str:
    return hashlib.sha256(normalize_for_dedup(text).encode("utf-8")).hexdigest()


def _identity(value: int) -> int:
    return value


def shingle_hashes(text: str) -> npt.NDArray[np.uint64]:
    """Distinct 32-bit hashes of the word 5-grams of `text` (one shingle for shorter texts)."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    table = {t: zlib.crc32(t.encode("utf-8")) for t in set(tokens)}
    ids = np.array([table[t] for t in tokens], dtype=np.uint64)
    k = min(SHINGLE_SIZE, len(ids))
    n = len(ids) - k + 1
    with np.errstate(over="ignore"):
        h = np.zeros(n, dtype=np.uint64)
        for i in range(k):
            h = h * _MIX + ids[i : i + n]
    return np.unique(h >> np.uint64(32))


def minhash_values(text: str) -> HashValues:
    """The MinHash signature (NUM_PERM values) of `text`, with datasketch's own permutations."""
    minhash = MinHash(
        num_perm=NUM_PERM, seed=MINHASH_SEED, hashfunc=_identity, permutations=_PERMUTATIONS, scheme=_SCHEME
    )
    shingles = shingle_hashes(text).tolist()
    for start in range(0, len(shingles), _CHUNK):
        minhash.update_batch(shingles[start : start + _CHUNK])
    return np.asarray(minhash.hashvalues)


class NearDuplicateIndex:
    """Keeps the signatures of accepted files; `is_duplicate` then `add` in file order."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._kept: dict[str, MinHash] = {}

    def _minhash(self, values: HashValues) -> MinHash:
        return MinHash(
            num_perm=NUM_PERM, seed=MINHASH_SEED, hashvalues=values, permutations=_PERMUTATIONS, scheme=_SCHEME
        )

    def check_and_add(self, key: str, values: HashValues) -> bool:
        """True if `values` is a near duplicate of a kept file; otherwise keep it under `key`."""
        minhash = self._minhash(values)
        for other in self._lsh.query(minhash):
            if minhash.jaccard(self._kept[other]) >= self.threshold:
                return True
        self._lsh.insert(key, minhash)
        self._kept[key] = minhash
        return False
