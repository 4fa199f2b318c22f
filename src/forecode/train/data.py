"""Documents from a corpus, packed into fixed-length windows, then FIM-transformed per window.

Documents are tokenized and joined with end-of-text into one stream, cut into consecutive
windows of block_size + 1 tokens; each window is then FIM-arranged piece by piece
(`fim.fim_window`), so every FIM example lies whole inside its window. The stream is a pure
function of (seed, epoch, position): documents are visited in a per-epoch permutation, window
k's FIM splits use an RNG seeded by (seed, k), and a `PackerState` (epoch, next document,
windows made, leftover tokens) is all a checkpoint needs to continue exactly where it stopped.
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
from forecode.train.fim import fim_window

PAD = -1  # a target that no loss counts (`ignore_index`), where a window came out short


@dataclass(frozen=True)
class FimSettings:
    fim_rate: float = 0.9
    spm_rate: float = 0.75  # SPM puts the prefix right before the middle: far easier for a small model


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
    windows: int = 0  # windows made so far: window k's FIM splits are seeded by (seed, k)

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "doc": self.doc, "buffer": list(self.buffer), "windows": self.windows}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PackerState:
        return cls(
            epoch=int(d["epoch"]), doc=int(d["doc"]), buffer=[int(t) for t in d["buffer"]],
            windows=int(d.get("windows", 0)),
        )


class Packer:
    """Yields (n, block_size + 1) arrays of token ids: inputs are [:, :-1], targets [:, 1:];
    a target of `PAD` is not a token and counts in no loss."""

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
        return [*self.tokenizer.encode(self.docs[i]), self.tokenizer.special.eot]

    def next_batch(self, n: int) -> np.ndarray:
        """n consecutive windows of block_size + 1 tokens, each FIM-arranged on its own."""
        width = self.block_size + 1
        buf = self.state.buffer
        while len(buf) < n * width:
            buf.extend(self._next_document())
        windows = []
        for k in range(n):
            rng = random.Random(f"{self.seed}/fim/{self.state.windows}")
            self.state.windows += 1
            window = buf[k * width : (k + 1) * width]
            windows.append(fim_window(window, self.tokenizer, rng, self.fim.fim_rate, self.fim.spm_rate, PAD))
        self.state.buffer = buf[n * width :]
        return np.asarray(windows, dtype=np.int64)

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            yield self.next_batch(1)[0]
