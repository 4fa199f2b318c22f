"""Token healing: never leave the prompt ending on a token boundary the model has not learned.

When the cursor falls inside what would be one token (`os.pa|`, `x =|`, the spaces of an
indentation), the prompt's last token is a fragment the model rarely saw at that position.
Healing backs the prompt off to the last whole token and makes the first generated tokens
begin with the text that was backed off, so the model chooses the token that really spans
the cursor (`path`, ` ==`, the full indentation). A bare newline is always a whole token
(see `bpe.py`), so a cursor at a line start needs no healing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from forecode.tokenizer.protocol import ModelTokenizer


@dataclass(frozen=True)
class HealedPrompt:
    ids: list[int]  # the prompt without the backed-off token
    backed_off: bytes  # what the first generated tokens must start with


class TokenHealer:
    """Knows which tokens can be extended, and which tokens may follow a backed-off text."""

    def __init__(self, tokenizer: ModelTokenizer) -> None:
        self.tokenizer = tokenizer

    @cached_property
    def _extendable(self) -> frozenset[int]:
        """Ids of tokens that are a proper prefix of some other token."""
        table = self.tokenizer.token_bytes
        special = self.tokenizer.stop_ids
        order = sorted((b, i) for i, b in enumerate(table) if i not in special and b)
        out = set()
        # In sorted order, anything that extends b comes right after b.
        for (b, i), (nxt, _) in zip(order, order[1:]):
            if len(nxt) > len(b) and nxt.startswith(b):
                out.add(i)
        return frozenset(out)

    def heal(self, prefix_ids: list[int]) -> HealedPrompt:
        """Back off the last token of `prefix_ids` when a longer token could span the cursor."""
        if prefix_ids and prefix_ids[-1] in self._extendable:
            return HealedPrompt(prefix_ids[:-1], self.tokenizer.token_bytes[prefix_ids[-1]])
        return HealedPrompt(list(prefix_ids), b"")

    def allowed(self, remaining: bytes) -> list[int]:
        """Tokens consistent with text that must still come first: they start with it or are
        a prefix of it."""
        special = self.tokenizer.stop_ids
        return [
            i
            for i, b in enumerate(self.tokenizer.token_bytes)
            if b and i not in special and (b.startswith(remaining) or remaining.startswith(b))
        ]
