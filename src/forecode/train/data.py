"""Documents from a corpus, FIM-transformed and packed into fixed-length windows.

The stream is a pure function of (seed, epoch, position): documents are visited in a
per-epoch permutation, each document's FIM split uses an RNG seeded by (seed, epoch, doc),
and a `PackerState` (epoch, next document, leftover tokens) is all a checkpoint needs to
continue exactly where it stopped.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forecode.corpus.shards import iter_records
from forecode.errors import InputError
from forecode.tokenizer import CodeTokenizer
from forecode.train.fim import transform_document

CHARS_PER_TOKEN = 3  # rough bytes of Python per token, to size chunks to a window


@dataclass(frozen=True)
class FimSettings:
    fim_rate: float = 0.9
    spm_rate: float = 0.1


def load_documents(corpus_dir: str | Path, val_fraction: float, language: str | None = "python") -> tuple[list[str], list[str]]:
    """Texts of the corpus, split by a hash of each file's sha256 so the split never moves."""
    train: list[str] = []
    val: list[str] = []
    for rec in iter_records(corpus_dir):
        if language and rec.get("language") != language:
            continue
        bucket = int(hashlib.sha256(rec["sha256"].encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (val if bucket < val_fraction else train).append(rec["text"])
    if not train:
        raise InputError(f"corpus {corpus_dir} has no {language or ''} documents for training")
    return train, val


@dataclass
class PackerState:
    epoch: int = 0
    doc: int = 0  # index into this epoch's permutation of the next document to read
    buffer: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "doc": self.doc, "buffer": list(self.buffer)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PackerState:
        return cls(epoch=int(d["epoch"]), doc=int(d["doc"]), buffer=[int(t) for t in d["buffer"]])


class Packer:
    """Yields (n, block_size + 1) arrays of token ids: inputs are [:, :-1], targets [:, 1:]."""

    def __init__(
        self,
        docs: list[str],
        tokenizer: CodeTokenizer,
        block_size: int,
        fim: FimSettings,
        seed: int,
        state: PackerState | None = None,
        shuffle: bool = True,
    ) -> None:
        self.docs, self.tokenizer, self.block_size = docs, tokenizer, block_size
        self.fim, self.seed, self.shuffle = fim, seed, shuffle
        self.state = state or PackerState()
        self._order: list[int] = []
        self._order_epoch = -1

    def _permutation(self) -> list[int]:
        if self._order_epoch != self.state.epoch:
            order = list(range(len(self.docs)))
            if self.shuffle:
                random.Random(f"{self.seed}/order/{self.state.epoch}").shuffle(order)
            self._order, self._order_epoch = order, self.state.epoch
        return self._order

    def _next_document(self) -> list[int]:
        order = self._permutation()
        if self.state.doc >= len(order):
            self.state.epoch += 1
            self.state.doc = 0
            order = self._permutation()
        i = order[self.state.doc]
        self.state.doc += 1
        rng = random.Random(f"{self.seed}/fim/{self.state.epoch}/{i}")
        max_chars = self.block_size * CHARS_PER_TOKEN
        return transform_document(self.docs[i], self.tokenizer, rng, self.fim.fim_rate, self.fim.spm_rate, max_chars)

    def next_batch(self, n: int) -> np.ndarray:
        """n windows of block_size + 1 tokens; a window overlaps the next by one token."""
        need = n * self.block_size + 1
        buf = self.state.buffer
        while len(buf) < need:
            buf.extend(self._next_document())
        arr = np.asarray(buf[:need], dtype=np.int64)
        self.state.buffer = buf[need - 1 :]
        windows = np.lib.stride_tricks.sliding_window_view(arr, self.block_size + 1)[:: self.block_size]
        return np.ascontiguousarray(windows[:n])

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            yield self.next_batch(1)[0]
