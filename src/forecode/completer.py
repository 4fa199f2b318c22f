"""The use case in the middle: a request (document, cursor, options) in, suggestions out.

Every adapter (CLI, HTTP, LSP, eval) calls `Completer.complete`; none builds prompts or trims
output on its own. The result carries a debug window: the prompt, the raw output, the scope
rule applied and the timings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any, Literal

from forecode.context.window import Window, build_window
from forecode.engine.base import Engine, GenerationRequest
from forecode.errors import InputError
from forecode.postprocess.scope import cut_to_scope, detect_scope
from forecode.tokenizer.fim import fim_prompt
from forecode.tokenizer.healing import TokenHealer

SPECIAL_BUDGET = 3  # the FIM tokens around prefix and suffix


@dataclass(frozen=True)
class CompletionRequest:
    text: str
    cursor: int  # offset in code points into `text`
    path: str | None = None
    language: str | None = None
    max_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    n: int = 1
    stop: tuple[str, ...] = ()  # the suggestion ends before the first of these strings
    scope: Literal["auto", "none"] = "auto"  # "none": no scope cut, as a plain completions API

    def __post_init__(self) -> None:
        if not 0 <= self.cursor <= len(self.text):
            raise InputError(f"cursor {self.cursor} is outside the document (0..{len(self.text)})")
        if self.max_tokens < 1:
            raise InputError(f"max_tokens must be at least 1, not {self.max_tokens}")
        if self.temperature < 0:
            raise InputError(f"temperature must not be negative, not {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InputError(f"top_p must be in (0, 1], not {self.top_p}")
        if self.n < 1:
            raise InputError(f"n must be at least 1, not {self.n}")
        if any(not s for s in self.stop):
            raise InputError("stop sequences must not be empty strings")
        if self.scope not in ("auto", "none"):
            raise InputError(f"scope must be 'auto' or 'none', not {self.scope!r}")


@dataclass(frozen=True)
class TokenInfo:
    text: str
    logprob: float


@dataclass(frozen=True)
class Suggestion:
    text: str
    logprob: float  # sum over the kept tokens
    tokens: list[TokenInfo]
    finish_reason: str


@dataclass(frozen=True)
class Prompt:
    ids: list[int]  # the FIM prompt, in the engine's order
    backed_off: bytes  # what token healing took off the prefix: the suggestion must begin with it
    window: Window
    max_new: int  # tokens left for the suggestion


@dataclass(frozen=True)
class CompletionResult:
    suggestions: list[Suggestion]
    debug: dict[str, Any] = field(default_factory=dict)


class Completer:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tokenizer = engine.tokenizer
        self.healer = TokenHealer(engine.tokenizer)

    def complete(self, request: CompletionRequest, cancelled: Callable[[], bool] | None = None,
                 on_text: Callable[[int, str], None] | None = None) -> CompletionResult:
        """Suggestions for `request`. `cancelled` is polled between tokens; once it returns
        True generation stops and the suggestions so far come back with finish reason
        "cancelled". `on_text`, for streaming, is called as generation proceeds with the
        suggestion's index and its text so far (after the cut; the final text is in the result)."""
        t0 = time.perf_counter()
        prefix, suffix = request.text[: request.cursor], request.text[request.cursor :]
        scope = detect_scope(prefix, suffix) if request.scope == "auto" else None
        line_prefix = prefix[prefix.rfind("\n") + 1 :]

        def cut(text: str) -> tuple[str, bool]:
            done = False
            if scope is not None:
                text, done = cut_to_scope(text, scope, line_prefix)
            ends = [i for i in (text.find(s) for s in request.stop) if i >= 0]
            return (text[: min(ends)], True) if ends else (text, done)

        built = self.build_prompt(request.text, request.cursor, request.max_tokens)
        prompt, window, max_new = built.ids, built.window, built.max_new
        t1 = time.perf_counter()

        suggestions, raw, timings = [], [], []
        for i in range(request.n):
            seed = None if request.seed is None else request.seed + i

            def stop_when(text: str, i: int = i) -> bool:
                kept, done = cut(text)
                if on_text is not None:
                    on_text(i, kept)
                return done

            gen = self.engine.generate(
                GenerationRequest(
                    prompt_ids=prompt,
                    max_new_tokens=max_new,
                    temperature=request.temperature,
                    top_p=request.top_p,
                    seed=seed,
                    forced_prefix=built.backed_off,
                    stop_when=stop_when,
                    cancelled=cancelled,
                )
            )
            text, _ = cut(gen.text)
            if scope is not None:
                text = text.rstrip()  # trailing blanks and newlines are never what the user wants
            tokens = self._token_infos(gen.token_ids, gen.token_logprobs, built.backed_off, len(text))
            suggestions.append(Suggestion(text, sum(t.logprob for t in tokens), tokens, gen.finish_reason))
            raw.append(gen.text)
            timings.append({"prefill_ms": round(gen.prefill_ms, 2), "decode_ms": round(gen.decode_ms, 2), "new_tokens": len(gen.token_ids)})
            if gen.finish_reason == "cancelled":
                break
        if request.n > 1:
            suggestions.sort(key=lambda s: -s.logprob / max(1, len(s.tokens)))
        debug = {
            "scope": scope.mode.value if scope is not None else "none",
            "prompt": self.tokenizer.decode(prompt),
            "prompt_tokens": len(prompt),
            "prefix_truncated": window.prefix_truncated,
            "suffix_truncated": window.suffix_truncated,
            "fim_order": self.engine.fim_order,
            "healed": built.backed_off.decode("utf-8", errors="replace"),
            "raw": raw,
            "timings": {"prompt_ms": round((t1 - t0) * 1000, 2), "generations": timings, "total_ms": round((time.perf_counter() - t0) * 1000, 2)},
        }
        return CompletionResult(suggestions, debug)

    def build_prompt(self, text: str, cursor: int, max_tokens: int, heal: bool = True) -> Prompt:
        """The FIM prompt for a cursor: prefix and suffix cut to the budget, the prefix healed,
        laid out in the order the engine's model was trained on."""
        max_new = min(max_tokens, max(1, self.engine.context_length // 4))
        budget = self.engine.context_length - max_new - SPECIAL_BUDGET
        window = build_window(text, cursor, self.tokenizer, budget)
        prefix_ids, backed_off = window.prefix_ids, b""
        if heal:
            healed = self.healer.heal(window.prefix_ids)
            prefix_ids, backed_off = healed.ids, healed.backed_off
        ids = fim_prompt(prefix_ids, window.suffix_ids, self.tokenizer.special, self.engine.fim_order)
        return Prompt(ids, backed_off, window, max_new)

    def _token_infos(self, ids: list[int], logprobs: list[float], forced: bytes, keep_chars: int) -> list[TokenInfo]:
        """Per-token text and log-probability, for the tokens that make up the kept text."""
        table = self.tokenizer.token_bytes
        out: list[TokenInfo] = []
        skip = len(forced)
        chars = 0
        for i, lp in zip(ids, logprobs):
            piece = table[i]
            if skip:
                cut = min(skip, len(piece))
                piece, skip = piece[cut:], skip - cut
            text = piece.decode("utf-8", errors="replace")
            if chars >= keep_chars and text:
                break
            out.append(TokenInfo(text, lp))
            chars += len(text)
        return out
