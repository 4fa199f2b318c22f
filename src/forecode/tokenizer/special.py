"""The special tokens: ids 0..4 in every forecode tokenizer, in this order."""

from __future__ import annotations

from dataclasses import dataclass

END_OF_TEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_MIDDLE = "<|fim_middle|>"
FILE_SEP = "<|file_sep|>"

SPECIAL_TOKENS: tuple[str, ...] = (END_OF_TEXT, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FILE_SEP)


@dataclass(frozen=True)
class SpecialTokens:
    """Ids of the special tokens in one tokenizer's vocabulary."""

    eot: int
    fim_prefix: int
    fim_suffix: int
    fim_middle: int
    file_sep: int

    def all(self) -> frozenset[int]:
        return frozenset((self.eot, self.fim_prefix, self.fim_suffix, self.fim_middle, self.file_sep))
