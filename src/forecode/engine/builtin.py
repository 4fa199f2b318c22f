"""The built-in engine for forecode's own checkpoints: PyTorch, KV cache, greedy or top-p."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from forecode.engine.base import Generation, GenerationRequest
from forecode.errors import InputError
from forecode.model.checkpoint import load_checkpoint
from forecode.model.llama import KVCache, Llama
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.healing import TokenHealer


class BuiltinEngine:
    def __init__(self, model: Llama, tokenizer: CodeTokenizer) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.healer = TokenHealer(tokenizer)
        self._special = sorted(tokenizer.special.all())
        self._vocab = tokenizer.vocab_size

    @classmethod
    def from_checkpoint(cls, folder: str | Path, threads: int | None = None) -> BuiltinEngine:
        if threads:
            torch.set_num_threads(threads)
        ckpt = load_checkpoint(folder)
        return cls(ckpt.model, ckpt.tokenizer)

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
        n_prompt = len(request.prompt_ids)
        if n_prompt == 0:
            raise InputError("empty prompt")
        if request.max_new_tokens < 1:
            raise InputError(f"max_new_tokens must be at least 1, not {request.max_new_tokens}")
        room = self.model.max_positions - n_prompt
        if room < 1:
            raise InputError(f"prompt of {n_prompt} tokens leaves no room in {self.model.max_positions} positions")
        max_new = min(request.max_new_tokens, room)
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

        remaining = request.forced_prefix
        out_ids: list[int] = []
        out_bytes = bytearray()
        logprobs: list[float] = []
        finish: str = "max_tokens"
        eot = self.tokenizer.special.eot
        table = self.tokenizer.token_bytes
        while len(out_ids) < max_new:
            logits = logits[: self._vocab].float()
            if remaining:  # healing: only tokens consistent with the backed-off text
                mask = torch.full_like(logits, float("-inf"))
                mask[self.healer.allowed(remaining)] = 0.0
                logits = logits + mask
            logp = torch.log_softmax(logits, dim=-1)
            next_id = self._pick(logits, request, gen)
            out_ids.append(next_id)
            logprobs.append(float(logp[next_id]))
            if next_id in self._special:
                finish = "end_of_text" if next_id == eot else "stop_rule"
                out_ids.pop()
                logprobs.pop()
                break
            piece = table[next_id]
            if remaining:
                consumed = min(len(remaining), len(piece))
                remaining, piece = remaining[consumed:], piece[consumed:]
            out_bytes.extend(piece)
            if request.stop_when is not None and not remaining:
                if request.stop_when(out_bytes.decode("utf-8", errors="ignore")):
                    finish = "stop_rule"
                    break
            if len(out_ids) >= max_new:
                break
            logits = self.model(torch.tensor([[next_id]], device=p.device), cache)[0, -1]
        t2 = time.perf_counter()
        return Generation(
            token_ids=out_ids,
            text=out_bytes.decode("utf-8", errors="replace"),
            token_logprobs=logprobs,
            finish_reason=finish,  # type: ignore[arg-type]
            prompt_tokens=n_prompt,
            prefill_ms=(t1 - t0) * 1000,
            decode_ms=(t2 - t1) * 1000,
        )
