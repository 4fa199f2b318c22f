"""The built-in engine for forecode's own checkpoints: PyTorch, KV cache, greedy or top-p."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from forecode.engine.base import Generation, GenerationRequest
from forecode.engine.decoding import DecodeState, check_room
from forecode.errors import InputError
from forecode.model.checkpoint import load_checkpoint
from forecode.model.llama import KVCache, Llama
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.fim import FimOrder
from forecode.tokenizer.healing import TokenHealer

# Scoring runs continuations in groups that keep two tensors bounded: the logits (rows x
# longest row x vocab floats) and the per-row copies of the prompt's KV cache.
SCORE_BATCH_TOKENS = 1024
SCORE_BATCH_CACHE_BYTES = 256 * 2**20


class BuiltinEngine:
    def __init__(self, model: Llama, tokenizer: CodeTokenizer, fim_order: FimOrder = "psm") -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.fim_order: FimOrder = fim_order
        self.healer = TokenHealer(tokenizer)
        self._vocab = tokenizer.vocab_size

    @classmethod
    def from_checkpoint(cls, folder: str | Path, threads: int | None = None) -> BuiltinEngine:
        if threads:
            torch.set_num_threads(threads)
        ckpt = load_checkpoint(folder)
        order = ckpt.meta.get("fim_order", "psm")
        if order not in ("psm", "spm"):
            raise InputError(f"{folder}/forecode.json asks for FIM order {order!r}; expected 'psm' or 'spm'")
        return cls(ckpt.model, ckpt.tokenizer, order)

    @property
    def context_length(self) -> int:
        return self.model.config.block_size

    def _pick(self, logits: torch.Tensor, request: GenerationRequest, gen: torch.Generator | None) -> int:
        if request.temperature <= 0:
            return int(torch.argmax(logits).item())
        probs = torch.softmax(logits / request.temperature, dim=-1)
        if request.top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < request.top_p  # always keeps the top token
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
        return int(torch.multinomial(probs, 1, generator=gen).item())

    @torch.inference_mode()
    def generate(self, request: GenerationRequest) -> Generation:
        max_new = check_room(request, self.model.max_positions)
        n_prompt = len(request.prompt_ids)
        p = next(self.model.parameters())
        gen = None
        if request.temperature > 0:  # on the model's device: multinomial refuses a generator elsewhere
            gen = torch.Generator(device=p.device)
            if request.seed is not None:
                gen.manual_seed(request.seed)
            else:
                gen.seed()  # a fresh seed, leaving torch's global generator alone
        cache = KVCache.empty(self.model.config, 1, n_prompt + max_new, p.dtype, p.device)

        t0 = time.perf_counter()
        logits = self.model(torch.tensor([request.prompt_ids], device=p.device), cache, last_only=True)[0, -1]
        t1 = time.perf_counter()

        state = DecodeState(self.tokenizer, request)
        while True:
            logits = logits[: self._vocab].float()
            if state.remaining:  # healing: only tokens consistent with the backed-off text
                mask = torch.full_like(logits, float("-inf"))
                mask[self.healer.allowed(state.remaining)] = 0.0
                logits = logits + mask
            logp = torch.log_softmax(logits, dim=-1)
            next_id = self._pick(logits, request, gen)
            if state.add(next_id, float(logp[next_id])) or len(state.ids) >= max_new:
                break
            logits = self.model(torch.tensor([[next_id]], device=p.device), cache)[0, -1]
        t2 = time.perf_counter()
        return Generation(
            token_ids=state.ids,
            text=state.text,
            token_logprobs=state.logprobs,
            finish_reason=state.finish,
            prompt_tokens=n_prompt,
            prefill_ms=(t1 - t0) * 1000,
            decode_ms=(t2 - t1) * 1000,
        )

    @torch.inference_mode()
    def score(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        """Log-probability of each continuation right after the prompt: the sum over its tokens.

        One prefill of the prompt fills a KV cache. Its last position predicts every
        continuation's first token; the later tokens come from one batched pass per group of
        continuations over copies of that cache, right-padded, so padding follows every token
        that is scored and never changes a score.
        """
        n_prompt = len(prompt_ids)
        if n_prompt == 0:
            raise InputError("empty prompt")
        longest = max((len(c) for c in continuations), default=0)
        if n_prompt + longest > self.model.max_positions:
            raise InputError(
                f"prompt of {n_prompt} tokens and a continuation of {longest} tokens exceed "
                f"the model's {self.model.max_positions} positions"
            )
        for c in continuations:
            bad = [t for t in c if not 0 <= t < self._vocab]
            if bad:
                raise InputError(f"token id {bad[0]} is outside the vocabulary (0..{self._vocab - 1})")
        if not continuations:
            return []
        p = next(self.model.parameters())
        cache = KVCache.empty(self.model.config, 1, n_prompt, p.dtype, p.device)
        logits = self.model(torch.tensor([prompt_ids], device=p.device), cache, last_only=True)[0, -1]
        first = torch.log_softmax(logits[: self._vocab].float(), dim=-1)  # (vocab,)
        scores = [float(first[c[0]]) if c else 0.0 for c in continuations]

        # Longest first, so each group pads little; a group's cost is rows x its longest row.
        rest = sorted((i for i, c in enumerate(continuations) if len(c) > 1), key=lambda i: -len(continuations[i]))
        config = self.model.config
        bytes_per_position = 2 * config.n_layer * config.n_kv_head * config.head_dim * p.element_size()  # keys and values
        while rest:
            T = len(continuations[rest[0]]) - 1  # the group's longest input: all but the last token
            rows = max(1, min(SCORE_BATCH_TOKENS // T, SCORE_BATCH_CACHE_BYTES // ((n_prompt + T) * bytes_per_position)))
            group, rest = rest[:rows], rest[rows:]
            B = len(group)
            x = torch.zeros(B, T, dtype=torch.long, device=p.device)  # (B, T), right-padded with id 0
            for row, i in enumerate(group):
                c = continuations[i]
                x[row, : len(c) - 1] = torch.tensor(c[:-1], device=p.device)
            shape = (B, config.n_kv_head, n_prompt + T, config.head_dim)
            batch_cache = KVCache(k=[], v=[], length=n_prompt)
            for k, v in zip(cache.k, cache.v):  # uninitialised: the forward writes the new slots before reading them
                batch_cache.k.append(k.new_empty(shape))
                batch_cache.v.append(v.new_empty(shape))
                batch_cache.k[-1][:, :, :n_prompt] = k  # (1, ...) broadcast to each row
                batch_cache.v[-1][:, :, :n_prompt] = v
            logp = torch.log_softmax(self.model(x, batch_cache)[..., : self._vocab].float(), dim=-1)  # (B, T, vocab)
            for row, i in enumerate(group):
                c = continuations[i]
                targets = torch.tensor(c[1:], device=p.device)
                scores[i] += float(logp[row, torch.arange(len(c) - 1, device=p.device), targets].sum())
        return scores
