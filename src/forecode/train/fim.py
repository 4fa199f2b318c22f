"""The FIM transform of one document, with character-level split points (Bavarian et al. 2022)."""

from __future__ import annotations

import random

from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.fim import FimOrder, fim_sequence


def split_points(n_chars: int, rng: random.Random) -> tuple[int, int]:
    """Two cut points 0 <= a <= b <= n_chars, uniform over characters."""
    a, b = sorted((rng.randint(0, n_chars), rng.randint(0, n_chars)))
    return a, b


def chunk_text(text: str, max_chars: int) -> list[str]:
    """Cut a long document at line ends into pieces of at most about `max_chars` characters,
    so each piece, FIM-transformed, fits in a training window."""
    if len(text) <= max_chars:
        return [text]
    chunks, start = [], 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            newline = text.rfind("\n", start, end)
            if newline > start:
                end = newline + 1
        chunks.append(text[start:end])
        start = end
    return chunks


def transform_document(
    text: str,
    tokenizer: CodeTokenizer,
    rng: random.Random,
    fim_rate: float,
    spm_rate: float,
    max_chars: int,
) -> list[int]:
    """Token ids of one document: each chunk either plain or FIM-arranged, then end-of-text."""
    out: list[int] = []
    for chunk in chunk_text(text, max_chars):
        if rng.random() < fim_rate:
            a, b = split_points(len(chunk), rng)
            order: FimOrder = "spm" if rng.random() < spm_rate else "psm"
            prefix, middle, suffix = tokenizer.encode_batch([chunk[:a], chunk[a:b], chunk[b:]])
            out.extend(fim_sequence(prefix, middle, suffix, tokenizer.special, order))
        else:
            out.extend(tokenizer.encode(chunk))
    if not out or out[-1] != tokenizer.special.eot:
        out.append(tokenizer.special.eot)
    return out
