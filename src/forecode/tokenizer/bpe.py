"""Byte-level BPE (Hugging Face tokenizers) whose token boundaries suit a cursor in code.

The pre-tokenizer decides where a token may end. Two rules matter for completion:
a newline is always a token of its own, and the indentation after it is a separate token.
A prompt that ends at a line start therefore ends on a boundary the model saw in training
(a plain GPT-2 split merges "\n" with the spaces after it, and a model trained that way
writes the wrong indentation when the cursor sits at a bare newline). Inside a line, a
cursor can still fall inside a token; `healing.py` handles that case.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from forecode.errors import InputError
from forecode.tokenizer.special import (
    END_OF_TEXT,
    FILE_SEP,
    FIM_MIDDLE,
    FIM_PREFIX,
    FIM_SUFFIX,
    SPECIAL_TOKENS,
    SpecialTokens,
)

# Pieces, tried in order at each position (Oniguruma syntax; `^` matches at every line start):
#   a newline; indentation at a line start; an identifier with an optional leading space;
#   up to three digits; a run of punctuation with an optional leading space; other blanks.
PRE_TOKENIZE_PATTERN = (
    r"\r?\n"
    r"|^[ \t]+"
    r"| ?[\p{L}\p{M}_][\p{L}\p{M}\p{N}_]*"
    r"| ?\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{M}\p{N}_]+"
    r"|[ \t]+"
    r"|\s"
)


def _new_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRE_TOKENIZE_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    return tok


def bytes_to_unicode() -> dict[int, str]:
    """The byte-level alphabet: each byte maps to a printable character (GPT-2's scheme)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@functools.cache
def _unicode_to_byte() -> dict[str, int]:
    return {c: b for b, c in bytes_to_unicode().items()}


def train_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> CodeTokenizer:
    """Learn merges from `texts`; the special tokens take ids 0..4."""
    tok = _new_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=True,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return CodeTokenizer(tok)


def _check_encodable(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"text has a lone surrogate {text[exc.start]!r} at index {exc.start}; it is not valid Unicode "
            "and cannot be tokenized (decode the source with errors='replace' first)"
        ) from None


class HFEncoding:
    """Encoding through a Hugging Face `tokenizers.Tokenizer` held as `_tok`, special-token names
    read as plain text (shared by forecode's tokenizer and other models' ones)."""

    _tok: Tokenizer

    def encode(self, text: str) -> list[int]:
        _check_encodable(text)
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        for t in texts:
            _check_encodable(t)
        return [list(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=False)]


class CodeTokenizer(HFEncoding):
    """A trained tokenizer. Text never turns into special tokens: those come only by id."""

    def __init__(self, tok: Tokenizer) -> None:
        self._tok = tok
        self._tok.encode_special_tokens = True  # "<|endoftext|>" inside a file is just text
        ids = [tok.token_to_id(t) for t in SPECIAL_TOKENS]
        if any(i is None for i in ids):
            raise InputError(f"tokenizer lacks special tokens {SPECIAL_TOKENS}")
        self.special = SpecialTokens(*[int(i) for i in ids if i is not None])

    @classmethod
    def from_file(cls, path: str | Path) -> CodeTokenizer:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"tokenizer file {path} does not exist")
        return cls(Tokenizer.from_file(str(path)))

    def save(self, path: str | Path) -> None:
        self._tok.save(str(path))

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the serialised tokenizer, recorded in checkpoints to catch mismatches."""
        return hashlib.sha256(self._tok.to_str().encode()).hexdigest()

    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids`; special tokens are written out by name."""
        return str(self._tok.decode(list(ids), skip_special_tokens=False))

    def pieces(self, text: str) -> list[str]:
        """The pre-tokenizer's pieces of `text`: the boundaries no token crosses."""
        assert self._tok.pre_tokenizer is not None
        unicode_to_byte = _unicode_to_byte()
        out = []
        for piece, _ in self._tok.pre_tokenizer.pre_tokenize_str(text):
            out.append(bytes(unicode_to_byte[c] for c in piece).decode("utf-8", errors="replace"))
        return out

    @property
    def stop_ids(self) -> frozenset[int]:
        return self.special.all()

    @cached_property
    def token_bytes(self) -> list[bytes]:
        """The bytes each id stands for (special tokens: their name in UTF-8)."""
        unicode_to_byte = _unicode_to_byte()
        table = [b""] * self.vocab_size
        for token, i in self._tok.get_vocab(with_added_tokens=True).items():
            if token in SPECIAL_TOKENS:
                table[i] = token.encode()
            else:
                table[i] = bytes(unicode_to_byte[c] for c in token)
        return table



__all__ = ["CodeTokenizer", "END_OF_TEXT", "FILE_SEP", "FIM_MIDDLE", "FIM_PREFIX", "FIM_SUFFIX", "train_tokenizer"]
