"""A tokenizer that records every text it is asked to encode, for tests that count tokenizing."""

from __future__ import annotations

from forecode.tokenizer.protocol import ModelTokenizer


class CountingTokenizer:
    def __init__(self, inner: ModelTokenizer) -> None:
        self.inner = inner
        self.seen: list[str] = []

    def encode(self, text: str) -> list[int]:
        self.seen.append(text)
        return self.inner.encode(text)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        self.seen.extend(texts)
        return self.inner.encode_batch(texts)

    def decode(self, ids: list[int]) -> str:
        return self.inner.decode(ids)
