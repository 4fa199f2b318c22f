"""Documents from a corpus, packed into fixed-length windows, then FIM-transformed per window.

Documents are tokenized and joined with end-of-text into one stream, cut into consecutive
windows of block_size + 1 tokens; each window is then FIM-arranged piece by piece
(`fim.fim_window`), so every FIM example lies whole inside its window. The stream is a pure
function of (seed, epoch, position): documents are visited in a per-epoch permutation, window
k's FIM splits use an RNG seeded by (seed, k), and a `PackerState` (epoch, next document,
windows made, leftover tokens) is all a checkpoint needs to continue exactly where it stopped.

`RepoPacker` (`forecode train --repo-context`) packs repository-level examples instead: a
"document" is a group of files of one package, joined in the layout of forecode.tokenizer.fim
(each file after a file separator and its path line), and FIM is applied to the group's last
file only. Groups are a pure function of (seed, epoch) too, so the same `PackerState` resumes it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forecode.corpus.shards import iter_records
from forecode.errors import InputError
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.fim import file_header, file_text
from forecode.train.fim import fim_window

PAD = -1  # a target that no loss counts (`ignore_index`), where a window came out short


@dataclass(frozen=True)
class FimSettings:
    fim_rate: float = 0.9
    spm_rate: float = 0.75  # SPM puts the prefix right before the middle: far easier for a small model


@dataclass(frozen=True)
class CorpusFile:
    """A corpus record as repository-level packing needs it: the text and where it came from."""

    text: str
    path: str  # POSIX, relative to the package's source root
    package: str


def load_files(corpus_dir: str | Path, val_fraction: float, language: str | None = "python") -> tuple[list[CorpusFile], list[CorpusFile]]:
    """Files of the corpus with their provenance, split by a hash of each file's sha256 so the
    split never moves."""
    train: list[CorpusFile] = []
    val: list[CorpusFile] = []
    for rec in iter_records(corpus_dir):
        if language and rec.get("language") != language:
            continue
        bucket = int(hashlib.sha256(rec["sha256"].encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        file = CorpusFile(rec["text"], str(rec.get("path") or ""), str(rec.get("package") or ""))
        (val if bucket < val_fraction else train).append(file)
    if not train:
        raise InputError(f"corpus {corpus_dir} has no {language or ''} documents for training")
    return train, val


def load_documents(corpus_dir: str | Path, val_fraction: float, language: str | None = "python") -> tuple[list[str], list[str]]:
    """Texts of the corpus (`load_files` without the provenance)."""
    train, val = load_files(corpus_dir, val_fraction, language)
    return [f.text for f in train], [f.text for f in val]


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

    repo = False  # whether windows hold repository-level groups (FIM on each group's last file)

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

    def _epoch_units(self) -> Sequence[int]:
        """What this epoch reads, in order: here, documents."""
        return self._permutation()

    def _encode_unit(self, i: int) -> list[int]:
        return self.tokenizer.encode(self.docs[i])

    def _next_document(self) -> list[int]:
        order = self._epoch_units()
        if self.state.doc >= len(order):
            self.state.epoch += 1
            self.state.doc = 0
            order = self._epoch_units()
        i = order[self.state.doc]
        self.state.doc += 1
        return [*self._encode_unit(i), self.tokenizer.special.eot]

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
            windows.append(fim_window(window, self.tokenizer, rng, self.fim.fim_rate, self.fim.spm_rate, PAD, self.repo))
        self.state.buffer = buf[n * width :]
        return np.asarray(windows, dtype=np.int64)

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            yield self.next_batch(1)[0]


# A group takes files until they hold this many characters per token of the window (about one
# window of code) or there are REPO_GROUP_FILES: the context files before the last one stay
# within about a window, so the start of the last file shares a window with them.
REPO_GROUP_CHARS_PER_TOKEN = 3
REPO_GROUP_FILES = 4


def package_groups(files: list[CorpusFile], block_size: int, seed: int, epoch: int, shuffle: bool = True) -> list[tuple[int, ...]]:
    """Indices of `files` in groups of one package each, in this epoch's order: each package's
    files in a shuffled order (sorted by path when not shuffling), cut into groups of at most
    REPO_GROUP_FILES files, closed by the file that brings them to about one window of
    characters; then the groups of all packages shuffled together."""
    by_package: dict[str, list[int]] = {}
    for i, f in enumerate(files):
        by_package.setdefault(f.package, []).append(i)
    limit = block_size * REPO_GROUP_CHARS_PER_TOKEN
    groups: list[tuple[int, ...]] = []
    for package in sorted(by_package):
        members = sorted(by_package[package], key=lambda i: (files[i].path, i))
        if shuffle:
            random.Random(f"{seed}/group/{epoch}/{package}").shuffle(members)
        group: list[int] = []
        chars = 0
        for i in members:
            group.append(i)
            chars += len(files[i].text)
            if len(group) == REPO_GROUP_FILES or chars >= limit:
                groups.append(tuple(group))
                group, chars = [], 0
        if group:
            groups.append(tuple(group))
    if shuffle:
        random.Random(f"{seed}/order/{epoch}").shuffle(groups)
    return groups


class RepoPacker(Packer):
    """A `Packer` whose documents are groups of files of one package (`package_groups`) in the
    repository-level layout; a group of one file is that file alone, as `Packer` packs it."""

    repo = True

    def __init__(
        self,
        files: list[CorpusFile],
        tokenizer: CodeTokenizer,
        block_size: int,
        fim: FimSettings,
        seed: int,
        state: PackerState | None = None,
        shuffle: bool = True,
    ) -> None:
        super().__init__([f.text for f in files], tokenizer, block_size, fim, seed, state, shuffle)
        self.files = files
        self._groups: list[tuple[int, ...]] = []
        self._groups_epoch = -1

    def _epoch_groups(self) -> list[tuple[int, ...]]:
        if self._groups_epoch != self.state.epoch:
            self._groups = package_groups(self.files, self.block_size, self.seed, self.state.epoch, self.shuffle)
            self._groups_epoch = self.state.epoch
        return self._groups

    def _epoch_units(self) -> Sequence[int]:
        """What this epoch reads, in order: groups, already in the epoch's order."""
        return range(len(self._epoch_groups()))

    def _encode_unit(self, i: int) -> list[int]:
        return repo_document([self.files[j] for j in self._epoch_groups()[i]], self.tokenizer)


def repo_document(group: list[CorpusFile], tokenizer: CodeTokenizer) -> list[int]:
    """The ids of one group: every file but the last as a context file (separator, path line,
    text), then the last file's separator and path line and its text, which FIM may arrange;
    one file alone is just its text."""
    *context, last = group
    if not context:
        return tokenizer.encode(last.text)
    sep = tokenizer.special.file_sep
    ids = [t for f in context for t in (sep, *tokenizer.encode(file_text(f.path, f.text)))]
    return [*ids, sep, *tokenizer.encode(file_header(last.path)), *tokenizer.encode(last.text)]
