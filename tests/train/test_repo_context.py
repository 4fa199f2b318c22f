"""Repository-level packing (`forecode train --repo-context`), and the default packer pinned to
the stream a running training run resumes with."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np

from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.fim import file_header, file_text, fim_prompt
from forecode.train.data import CorpusFile, FimSettings, Packer, PackerState, RepoPacker, load_documents, load_files, package_groups, repo_document
from forecode.train.fim import fim_window, last_file_start

# Digests of the default packer's output (every batch's bytes, then its final state as JSON), made
# with the packer of commit d111602, before repository-level packing existed, on `tiny_corpus` with
# `tiny_tokenizer` (whose fingerprint is pinned too, so a changed fixture is told apart from a
# changed packer). A training run resumes from a checkpoint with this stream: it must not move.
TINY_TOKENIZER_FINGERPRINT = "f5e986d7f895103f3fe88e6d9f60667811ae580af8058ecb9708450bf59a6b36"
PINNED = [
    # (block_size, FimSettings, seed, shuffle, batches, per batch, digest)
    (128, FimSettings(), 1234, True, 30, 4, "7c61ae53c2d167164c5bb8f64f8e7bb2"),
    (64, FimSettings(0.5, 0.5), 7, True, 40, 3, "04fbd2f53e0de2ba568aceb9fe49b905"),
    (32, FimSettings(fim_rate=0.0), 0, False, 20, 2, "6eeef4f8a35a3ed848fe465787bb5f1d"),
    (256, FimSettings(), 99, True, 60, 4, "35b58d0078f79e2575fc85238d51b9bb"),  # past the first epoch
]


def _digest(packer: Packer, batches: int, n: int) -> str:
    h = hashlib.sha256()
    for _ in range(batches):
        h.update(packer.next_batch(n).tobytes())
    h.update(json.dumps(packer.state.to_dict()).encode())
    return h.hexdigest()[:32]


def test_default_packer_stream_is_unchanged(tiny_corpus: Path, tiny_tokenizer: CodeTokenizer) -> None:
    assert tiny_tokenizer.fingerprint == TINY_TOKENIZER_FINGERPRINT
    docs, _ = load_documents(tiny_corpus, 0.0)
    for block, fim, seed, shuffle, batches, n, digest in PINNED:
        assert _digest(Packer(docs, tiny_tokenizer, block, fim, seed, shuffle=shuffle), batches, n) == digest, (block, seed)


def test_load_files_keeps_provenance_and_the_split(tiny_corpus: Path) -> None:
    files, val = load_files(tiny_corpus, 0.5)
    docs, val_docs = load_documents(tiny_corpus, 0.5)
    assert [f.text for f in files] == docs and [f.text for f in val] == val_docs
    assert all(f.path.endswith(".py") and f.package for f in files)


FILES = [
    CorpusFile(f"def helper_{p}_{i}(x):\n    return x + {i}\n" * (1 + i % 3), f"{p}/mod_{i}.py", p)
    for p in ("alpha", "beta") for i in range(5)
] + [CorpusFile("print('alone')\n" * 3, "solo/main.py", "solo")]


def test_groups_hold_one_package_each_and_cover_every_file_once() -> None:
    groups = package_groups(FILES, block_size=64, seed=3, epoch=0)
    assert sorted(i for g in groups for i in g) == list(range(len(FILES)))
    assert all(len({FILES[i].package for i in g}) == 1 for g in groups)
    assert any(len(g) > 1 for g in groups)
    assert package_groups(FILES, 64, 3, 0) == groups and package_groups(FILES, 64, 3, 1) != groups


def test_repo_document_layout(tiny_tokenizer: CodeTokenizer) -> None:
    a, b = FILES[0], FILES[1]
    sep = tiny_tokenizer.special.file_sep
    ids = repo_document([a, b], tiny_tokenizer)
    assert ids == [sep, *tiny_tokenizer.encode(file_text(a.path, a.text)), sep,
                   *tiny_tokenizer.encode(file_header(b.path)), *tiny_tokenizer.encode(b.text)]
    assert tiny_tokenizer.decode(ids) == f"<|file_sep|>{a.path}\n{a.text}<|file_sep|>{b.path}\n{b.text}"
    assert repo_document([a], tiny_tokenizer) == tiny_tokenizer.encode(a.text)  # one file: plain
    assert last_file_start(ids, tiny_tokenizer) == len(ids) - len(tiny_tokenizer.encode(b.text))


def test_fim_touches_only_the_last_file(tiny_tokenizer: CodeTokenizer) -> None:
    sp = tiny_tokenizer.special
    group = [FILES[0], FILES[2], FILES[4]]
    ids = repo_document(group, tiny_tokenizer)
    head = ids[: last_file_start(ids, tiny_tokenizer)]
    arranged = 0
    for seed in range(20):
        out = fim_window(ids, tiny_tokenizer, random.Random(seed), 1.0, 0.5, pad=-1, repo=True)
        assert len(out) == len(ids) and out[: len(head)] == head  # context files stay plain
        arranged += sp.fim_middle in out[len(head) :]
        assert sp.fim_middle not in out[: len(head)]
    assert arranged >= 15
    # without repo, the whole piece is one FIM example (its context files may be cut)
    plain = fim_window(ids, tiny_tokenizer, random.Random(0), 1.0, 0.5, pad=-1)
    assert plain[: len(head)] != head


def test_repo_packer_resumes_exactly(tiny_tokenizer: CodeTokenizer) -> None:
    fim = FimSettings(0.9, 0.5)
    reference = RepoPacker(FILES, tiny_tokenizer, 64, fim, seed=5)
    for _ in range(10):
        reference.next_batch(4)
    assert reference.state.epoch >= 1
    saved = json.loads(json.dumps(reference.state.to_dict()))
    expected = [reference.next_batch(3) for _ in range(8)]
    resumed = RepoPacker(FILES, tiny_tokenizer, 64, fim, seed=5, state=PackerState.from_dict(saved))
    for e, g in zip(expected, (resumed.next_batch(3) for _ in range(8))):
        assert np.array_equal(e, g)
    windows = [w for b in expected for w in b]
    assert any(tiny_tokenizer.special.file_sep in w for w in windows)


def test_repo_packer_stream_is_the_groups_back_to_back(tiny_tokenizer: CodeTokenizer) -> None:
    packer = RepoPacker(FILES, tiny_tokenizer, 16, FimSettings(fim_rate=0.0), seed=0, shuffle=False)
    stream = [int(t) for _ in range(12) for t in packer.next_batch(1)[0]]
    groups = package_groups(FILES, 16, 0, 0, shuffle=False)
    expected = [t for g in groups for t in (*repo_document([FILES[i] for i in g], tiny_tokenizer), tiny_tokenizer.special.eot)]
    assert len(expected) >= len(stream) and stream == expected[: len(stream)]


def test_training_and_inference_lay_out_the_same_tokens(tiny_tokenizer: CodeTokenizer) -> None:
    """The packer's FIM example for the last file, cut where its prefix ends, is the prompt
    forecode.tokenizer.fim builds from the same files for a cursor there."""
    sp = tiny_tokenizer.special
    a, b = FILES[0], FILES[1]
    ids = repo_document([a, b], tiny_tokenizer)
    start = last_file_start(ids, tiny_tokenizer)
    for seed in range(40):
        out = fim_window(ids, tiny_tokenizer, random.Random(seed), 1.0, 0.0, pad=-1, repo=True)  # PSM
        if sp.fim_middle in out:
            break
    body = out[start:]
    prefix = tiny_tokenizer.decode(body[1 : body.index(sp.fim_suffix)])
    suffix_ids = body[body.index(sp.fim_suffix) + 1 : body.index(sp.fim_middle)]
    expected = [sp.file_sep, *tiny_tokenizer.encode(file_text(a.path, a.text)), sp.file_sep,
                *tiny_tokenizer.encode(file_header(b.path)),
                *fim_prompt(tiny_tokenizer.encode(prefix), suffix_ids, sp, "psm")]
    assert out[: len(expected)] == expected
