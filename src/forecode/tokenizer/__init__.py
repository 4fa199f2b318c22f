"""Byte-level BPE with FIM and file-separator tokens, the FIM layout and token healing."""

from forecode.tokenizer.bpe import CodeTokenizer, train_tokenizer
from forecode.tokenizer.special import SPECIAL_TOKENS, SpecialTokens

__all__ = ["CodeTokenizer", "SPECIAL_TOKENS", "SpecialTokens", "train_tokenizer"]
