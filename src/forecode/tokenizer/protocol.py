"""What the completer, the context window and the decode loops need of a tokenizer. forecode's
own `CodeTokenizer` is one; the backends for other models (a Hugging Face folder, a GGUF file)
wrap those models' own vocabularies the same way."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from forecode.tokenizer.special import SpecialTokens


class ModelTokenizer(Protocol):
    # The ids the FIM layout uses (a family's missing tokens are -1) and the end-of-text token.
    special: SpecialTokens

    @property
    def vocab_size(self) -> int: ...

    @property
    def token_bytes(self) -> list[bytes]:
        """The bytes each id stands for (special tokens: their name in UTF-8)."""
        ...

    @property
    def stop_ids(self) -> frozenset[int]:
        """Ids that end a suggestion and are never part of one: the special tokens."""
        ...

    def encode(self, text: str) -> list[int]:
        """Ids of `text`, in which special-token names are plain text."""
        ...

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """`encode` of each text, in one call (far cheaper than one call per text)."""
        ...

    def decode(self, ids: Iterable[int]) -> str: ...
