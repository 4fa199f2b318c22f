"""What every engine's decode loop keeps: the generated ids, their log-probabilities, the text
after the forced (healed) prefix, and when to stop. The loops differ only in how they get the
next token's distribution."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from forecode.engine.base import FinishReason, GenerationRequest
from forecode.errors import InputError
from forecode.tokenizer.healing import TokenHealer
from forecode.tokenizer.protocol import ModelTokenizer


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
    def __init__(self, tokenizer: ModelTokenizer, request: GenerationRequest) -> None:
        self.request = request
        self.remaining = request.forced_prefix  # bytes the next tokens must still spell out
        self.ids: list[int] = []
        self.logprobs: list[float] = []
        self.finish: FinishReason = "max_tokens"
        self._bytes = bytearray()
        self._table = tokenizer.token_bytes
        self._special = tokenizer.stop_ids
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


def pick_token(logits: npt.NDArray[np.float32], request: GenerationRequest, rng: np.random.Generator | None) -> tuple[int, float]:
    """The next token from one position's logits (greedy, or temperature with top-p) and its
    log-probability under the unscaled distribution. For backends whose logits are numpy."""
    shifted = logits - logits.max()
    logp = shifted - np.log(np.exp(shifted).sum())
    if request.temperature <= 0 or rng is None:
        i = int(np.argmax(logits))
        return i, float(logp[i])
    probs = np.exp(shifted / request.temperature)
    probs /= probs.sum()
    if request.top_p < 1.0:
        order = np.argsort(-probs)
        sorted_p = probs[order]
        keep = np.cumsum(sorted_p) - sorted_p < request.top_p  # always keeps the top token
        trimmed = np.zeros_like(probs)
        trimmed[order[keep]] = sorted_p[keep]
        probs = trimmed / trimmed.sum()
    i = int(rng.choice(len(probs), p=probs))
    return i, float(logp[i])


def decode_loop(tokenizer: ModelTokenizer, healer: TokenHealer, request: GenerationRequest, max_new: int,
                logits: npt.NDArray[np.float32], step: Callable[[int], npt.NDArray[np.float32]]) -> DecodeState:
    """Generate from the prompt's last logits: `step(token)` feeds one token to the model and
    returns the next position's logits. Healing masks the first tokens to those consistent
    with the backed-off text. The loop of the backends other than the built-in engine."""
    rng = None
    if request.temperature > 0:
        rng = np.random.default_rng(request.seed)
    state = DecodeState(tokenizer, request)
    vocab = tokenizer.vocab_size
    while True:
        row = np.asarray(logits[:vocab], dtype=np.float32)
        if state.remaining:
            mask = np.full(row.shape, -np.inf, dtype=np.float32)
            mask[healer.allowed(state.remaining)] = 0.0
            row = row + mask
        token, logprob = pick_token(row, request, rng)
        if state.add(token, logprob) or len(state.ids) >= max_new:
            return state
        logits = step(token)
