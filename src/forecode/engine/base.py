"""The engine interface: token ids in, token ids with their log-probabilities out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from forecode.tokenizer.fim import FimOrder
from forecode.tokenizer.protocol import ModelTokenizer
from forecode.tokenizer.templates import PromptFormat

FinishReason = Literal["end_of_text", "stop_rule", "max_tokens", "cancelled"]


@dataclass(frozen=True)
class GenerationRequest:
    prompt_ids: list[int]
    max_new_tokens: int = 64
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    seed: int | None = None
    # Bytes the first generated tokens must spell out (token healing); not part of the output.
    forced_prefix: bytes = b""
    # Called with the text generated so far (after the forced prefix); True stops generation.
    stop_when: Callable[[str], bool] | None = field(default=None, compare=False)
    # Polled before each new token; True ends generation with finish reason "cancelled" (the
    # client went away, a newer request superseded this one, or its deadline passed).
    cancelled: Callable[[], bool] | None = field(default=None, compare=False)
    # The same prompt as text, for engines that send text to a server (which tokenizes it and
    # lays out FIM itself or by a template); None where the prompt exists only as ids.
    text: TextPrompt | None = None


@dataclass(frozen=True)
class TextPrompt:
    prefix: str  # the whole prefix window: not backed off by healing
    suffix: str
    files: tuple[tuple[str, str], ...] = ()  # (path, text) of context files, the most wanted last
    path: str = ""  # the current file, as the workspace names it


@dataclass(frozen=True)
class Generation:
    token_ids: list[int]
    text: str  # generated text, without the forced prefix
    token_logprobs: list[float]
    finish_reason: FinishReason
    prompt_tokens: int
    prefill_ms: float
    decode_ms: float
    cached_tokens: int = 0  # prompt tokens whose keys and values came from a cache, not prefilled

    @property
    def logprob(self) -> float:
        return sum(self.token_logprobs)


class Engine(Protocol):
    @property
    def tokenizer(self) -> ModelTokenizer: ...

    @property
    def prompt_format(self) -> PromptFormat:
        """How prompts for this engine's model lay out context files, prefix and suffix."""
        ...

    @property
    def context_length(self) -> int:
        """Most tokens (prompt and generated together) the engine takes."""
        ...

    def generate(self, request: GenerationRequest) -> Generation: ...

    def score(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        """Log-probability of each continuation right after the prompt: the sum over its tokens."""
        ...
