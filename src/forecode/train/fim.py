"""Context-level FIM: each training window is split at end-of-text into documents (or the
pieces of them that fall in the window) and each piece is FIM-arranged on its own, with
character-level split points (Bavarian et al. 2022), so every FIM example lies whole inside
one window: the model always sees the prefix and suffix of the middle it learns to write.

The arranged window keeps its length: the extra special tokens (and any tokens re-encoding
adds at the cuts) are taken off the far end of the suffix, and when the suffix is too short,
off the start of the prefix, as an editor's prompt cuts both to a budget. A piece too short to
arrange, or that does not decode as UTF-8 (cut mid-character at the window's edge), stays plain.

With repository context (`repo=True`, see forecode.tokenizer.fim for the layout) a piece is a group
of files of one package joined with file separators, and only its last file is FIM-arranged: the
text after the piece's last separator and that file's path line. The files before it stay plain,
as the snippets of an editor's prompt do. A piece with no separator (a one-file group, or a
window in the middle of a long file) is arranged whole, as without repository context.
"""

from __future__ import annotations

import random

from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.fim import FimOrder, fim_prompt

MIN_FIM_TOKENS = 8  # pieces shorter than this stay plain text


def split_points(n_chars: int, rng: random.Random) -> tuple[int, int]:
    """Two cut points 0 <= a <= b <= n_chars, uniform over characters."""
    a, b = sorted((rng.randint(0, n_chars), rng.randint(0, n_chars)))
    return a, b


def fim_piece(
    ids: list[int], tokenizer: CodeTokenizer, rng: random.Random, fim_rate: float, spm_rate: float
) -> list[int]:
    """`ids` (one piece, no end-of-text) FIM-arranged in at most as many tokens, or unchanged."""
    if rng.random() >= fim_rate or len(ids) < MIN_FIM_TOKENS:
        return ids
    try:
        text = b"".join(tokenizer.token_bytes[t] for t in ids).decode("utf-8")
    except UnicodeDecodeError:
        return ids
    a, b = split_points(len(text), rng)
    order: FimOrder = "spm" if rng.random() < spm_rate else "psm"
    prefix, middle, suffix = tokenizer.encode_batch([text[:a], text[a:b], text[b:]])
    excess = len(prefix) + len(middle) + len(suffix) + 3 - len(ids)
    if excess > len(suffix) + len(prefix):
        return ids
    if excess > 0:
        from_suffix = min(excess, len(suffix))
        suffix = suffix[: len(suffix) - from_suffix]
        prefix = prefix[excess - from_suffix :]
    arranged = [*fim_prompt(prefix, suffix, tokenizer.special, order), *middle]
    return arranged[: len(ids)]


def last_file_start(ids: list[int], tokenizer: CodeTokenizer) -> int:
    """Where the text of the last file of a repository-level piece begins: after its file
    separator and the path line that follows it (0 when the piece has no separator; the
    piece's end when it ends inside that path line)."""
    sep = tokenizer.special.file_sep
    last = max((i for i, t in enumerate(ids) if t == sep), default=-1)
    if last < 0:
        return 0
    table = tokenizer.token_bytes
    return next((i + 1 for i in range(last + 1, len(ids)) if b"\n" in table[ids[i]]), len(ids))


def fim_window(
    ids: list[int], tokenizer: CodeTokenizer, rng: random.Random, fim_rate: float, spm_rate: float, pad: int,
    repo: bool = False,
) -> list[int]:
    """The window `ids` with each end-of-text-separated piece FIM-arranged (with `repo`, only the
    last file of each piece), padded with `pad` to its old length when re-encoding came out shorter."""
    eot = tokenizer.special.eot
    out: list[int] = []
    start = 0
    for i in [*(i for i, t in enumerate(ids) if t == eot), len(ids)]:
        piece = ids[start:i]
        plain = last_file_start(piece, tokenizer) if repo else 0
        out.extend(piece[:plain])
        out.extend(fim_piece(piece[plain:], tokenizer, rng, fim_rate, spm_rate))
        if i < len(ids):
            out.append(eot)
        start = i + 1
    return out + [pad] * (len(ids) - len(out))
