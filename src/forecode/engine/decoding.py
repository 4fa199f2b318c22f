"""What every engine's decode loop keeps: the generated ids, their log-probabilities, the text
after the forced (healed) prefix, and when to stop. The loops differ only in how they get the
next token's distribution."""

from __future__ import annotations

from forecode.engine.base import FinishReason, GenerationRequest
from forecode.errors import InputError
from forecode.tokenizer import CodeTokenizer


def check_room(request: GenerationRequest, positions: int) -> int:
    """The most new tokens `request` may have in an engine of `positions` positions."""
    n_prompt = len(request.prompt_ids)
    if n_prompt == 0:
        raise InputError("empty prompt")
    if request.max_new_tokens < 1:
        raise InputError(f"max_new_tokens must be at least 1, not {request.max_new_tokens}")
    room = positions - n_prompt
    if room < 1:
        raise InputError(f"prompt of {n_prompt} tokens leaves no room in {positions} positions")
    return min(request.max_new_tokens, room)


class DecodeState:
    def __init__(self, tokenizer: CodeTokenizer, request: GenerationRequest) -> None:
        self.request = request
        self.remaining = request.forced_prefix  # bytes the next tokens must still spell out
        self.ids: list[int] = []
        self.logprobs: list[float] = []
        self.finish: FinishReason = "max_tokens"
        self._bytes = bytearray()
        self._table = tokenizer.token_bytes
        self._special = frozenset(tokenizer.special.all())
        self._eot = tokenizer.special.eot

    def add(self, token_id: int, logprob: float) -> bool:
        """Take the chosen token; True when generation should stop here (the token is kept
        unless it is a special token, which ends the suggestion and is not part of it, or the
        request was cancelled meanwhile, which drops it)."""
        if self.request.cancelled is not None and self.request.cancelled():
            self.finish = "cancelled"
            return True
        if token_id in self._special:
            self.finish = "end_of_text" if token_id == self._eot else "stop_rule"
            return True
        self.ids.append(token_id)
        self.logprobs.append(logprob)
        piece = self._table[token_id]
        if self.remaining:
            consumed = min(len(self.remaining), len(piece))
            self.remaining, piece = self.remaining[consumed:], piece[consumed:]
        self._bytes.extend(piece)
        stop_when = self.request.stop_when
        if stop_when is not None and not self.remaining and stop_when(self._bytes.decode("utf-8", errors="ignore")):
            self.finish = "stop_rule"
            return True
        return False

    @property
    def text(self) -> str:
        return self._bytes.decode("utf-8", errors="replace")
