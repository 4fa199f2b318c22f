"""The built-in engine for forecode's own checkpoints: PyTorch, KV cache, greedy or top-p.

Three things keep a request fast on a CPU (docs/BENCHMARKS.md, "Engine speed"):
- a prefix cache (forecode.engine.prefix_cache): a prompt that shares its start with a recent
  one prefills only the rest, which for an editor's next keystroke is a few tokens;
- prompt-lookup drafts for greedy requests (forecode.engine.lookup): tokens guessed from the
  prompt, and from what the previous request on the same cache entry generated, are verified
  several in one forward pass, and only the model's own greedy choices are kept, so the output
  equals plain greedy decoding;
- little per-token work: the forward pass in the packed layout (forecode.model.llama.PackedLlama:
  fused, transposed weights, no module calls), the log-probability of the chosen token only,
  healing masks only while healing (and looked up, not scanned), logits only of the positions
  a verification reaches.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import OrderedDict
from functools import cached_property
from pathlib import Path

import torch

from forecode.engine.base import Generation, GenerationRequest
from forecode.engine.decoding import DecodeState, check_room
from forecode.engine.lookup import PromptLookup
from forecode.engine.prefix_cache import CachedSequence, PrefixCache
from forecode.errors import InputError
from forecode.model.checkpoint import load_checkpoint
from forecode.model.llama import KVCache, Llama, PackedLlama
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.fim import FimOrder
from forecode.tokenizer.healing import TokenHealer
from forecode.tokenizer.protocol import ModelTokenizer
from forecode.tokenizer.templates import PromptFormat

# Scoring runs continuations in groups that keep two tensors bounded: the logits (rows x
# longest row x vocab floats) and the per-row copies of the prompt's KV cache.
SCORE_BATCH_TOKENS = 1024
SCORE_BATCH_CACHE_BYTES = 256 * 2**20
# The prefix cache keeps at most this many sequences, and no more than fit in this many bytes
# of keys and values (each entry spans the model's full length): 4 entries of 8 MiB for
# forecode-tiny, so that a few editors or documents in turn each find their own.
PREFIX_CACHE_ENTRIES = 4
PREFIX_CACHE_BYTES = 64 * 2**20


class HealingMasks:
    """The tokens allowed while healing (TokenHealer.allowed: those that start with the text
    still to spell, or are a prefix of it), as index tensors. Found by bisection in the sorted
    vocabulary rather than a scan of it, and remembered: the same few texts come back request
    after request. The sorted vocabulary is built on first use, not at start-up."""

    def __init__(self, tokenizer: ModelTokenizer, remembered: int = 1024) -> None:
        self.tokenizer = tokenizer
        self._memo: OrderedDict[bytes, torch.Tensor] = OrderedDict()
        self._remembered = remembered
        self._lock = threading.Lock()

    @cached_property
    def _vocabulary(self) -> tuple[list[bytes], list[int], dict[bytes, list[int]]]:
        """(the tokens' bytes sorted, their ids in that order, the ids of each bytes)."""
        stop = self.tokenizer.stop_ids
        pairs = sorted((b, i) for i, b in enumerate(self.tokenizer.token_bytes) if b and i not in stop)
        by_bytes: dict[bytes, list[int]] = {}
        for b, i in pairs:
            by_bytes.setdefault(b, []).append(i)
        return [b for b, _ in pairs], [i for _, i in pairs], by_bytes

    def allowed(self, remaining: bytes) -> torch.Tensor:
        with self._lock:
            mask = self._memo.get(remaining)
            if mask is not None:
                self._memo.move_to_end(remaining)
                return mask
        ordered, ids_in_order, by_bytes = self._vocabulary
        lo = bisect_left(ordered, remaining)  # those starting with `remaining` follow it in sorted order
        upper = remaining.rstrip(b"\xff")
        hi = bisect_left(ordered, upper[:-1] + bytes([upper[-1] + 1])) if upper else len(ordered)
        ids = ids_in_order[lo:hi]
        for n in range(1, len(remaining)):  # proper prefixes of `remaining`
            ids += by_bytes.get(remaining[:n], [])
        mask = torch.tensor(sorted(ids), dtype=torch.long)
        with self._lock:
            self._memo[remaining] = mask
            if len(self._memo) > self._remembered:
                self._memo.popitem(last=False)
        return mask


class BuiltinEngine:
    def __init__(self, model: Llama, tokenizer: CodeTokenizer, fim_order: FimOrder = "psm", *,
                 prefix_cache: bool = True, prompt_lookup: bool = True) -> None:
        """`prefix_cache`: keep the KV caches of recent requests and reuse their common prefix
        with the next prompt. `prompt_lookup`: verify prompt-lookup drafts in greedy requests.
        Neither changes what is generated, only how fast."""
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.fim_order: FimOrder = fim_order
        self.healer = TokenHealer(tokenizer)
        self._masks = HealingMasks(tokenizer)
        # generation runs the packed layout (fused, transposed weights: a copy); scoring the Llama
        self.packed = PackedLlama(model)
        self._vocab = tokenizer.vocab_size
        self.prompt_lookup = prompt_lookup
        self.prefix_cache: PrefixCache | None = None
        if prefix_cache:
            c = model.config
            p = next(model.parameters())
            entry_bytes = 2 * c.n_layer * c.n_kv_head * c.head_dim * model.max_positions * p.element_size()
            entries = max(1, min(PREFIX_CACHE_ENTRIES, PREFIX_CACHE_BYTES // entry_bytes))
            self.prefix_cache = PrefixCache(entries, self._new_cache)

    @classmethod
    def from_checkpoint(cls, folder: str | Path, threads: int | None = None, *, prefix_cache: bool = True,
                        prompt_lookup: bool = True) -> BuiltinEngine:
        """The engine for a checkpoint folder. `threads` sets PyTorch's intra-op threads for the
        whole process (torch.set_num_threads) and, while that is still possible (before the
        first parallel work), its inter-op threads to the same number; None leaves torch's
        default, one per core. A small model decoding one token at a time gains little from a
        second thread, and loses much when other work keeps the cores busy (BENCHMARKS.md)."""
        if threads is not None:
            if threads < 1:
                raise InputError(f"threads must be at least 1, not {threads}")
            torch.set_num_threads(threads)
            try:
                torch.set_num_interop_threads(threads)
            except RuntimeError:  # set already, or parallel work has started: torch allows it once
                pass
        ckpt = load_checkpoint(folder)
        order = ckpt.meta.get("fim_order", "psm")
        if order not in ("psm", "spm"):
            raise InputError(f"{folder}/forecode.json asks for FIM order {order!r}; expected 'psm' or 'spm'")
        return cls(ckpt.model, ckpt.tokenizer, order, prefix_cache=prefix_cache, prompt_lookup=prompt_lookup)

    @property
    def context_length(self) -> int:
        return self.model.config.block_size

    @property
    def prompt_format(self) -> PromptFormat:
        return PromptFormat.forecode(self.tokenizer.special, self.fim_order)

    def _new_cache(self) -> KVCache:
        p = next(self.model.parameters())
        return KVCache.empty(self.model.config, 1, self.model.max_positions, p.dtype, p.device)

    def _sample(self, logits: torch.Tensor, request: GenerationRequest, gen: torch.Generator | None) -> int:
        probs = torch.softmax(logits / request.temperature, dim=-1)
        if request.top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < request.top_p  # always keeps the top token
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
        return int(torch.multinomial(probs, 1, generator=gen).item())

    def _choose(self, h: torch.Tensor, state: DecodeState, request: GenerationRequest,
                gen: torch.Generator | None) -> tuple[int, float]:
        """The next token from one position's hidden state (n_embd,), and its log-probability
        (under the distribution before temperature, healing mask included)."""
        logits = self.packed.logits(h)[: self._vocab].float()  # (vocab,)
        if state.remaining:  # healing: only tokens consistent with the backed-off text
            allowed = self._masks.allowed(state.remaining)
            masked = torch.full_like(logits, float("-inf"))
            masked[allowed] = logits[allowed]
            logits = masked
        token = int(torch.argmax(logits)) if request.temperature <= 0 else self._sample(logits, request, gen)
        return token, float(logits[token] - torch.logsumexp(logits, dim=0))

    def _feed(self, seq: CachedSequence, ids: list[int]) -> torch.Tensor:
        """Run `ids` after the cached positions; their hidden states (T, n_embd)."""
        h = self.packed.hidden(torch.tensor([ids], device=self.packed.embed.device), seq.cache)[0]
        seq.ids.extend(ids)
        return h

    @torch.inference_mode()
    def generate(self, request: GenerationRequest) -> Generation:
        max_new = check_room(request, self.model.max_positions)
        prompt = request.prompt_ids
        n_prompt = len(prompt)
        gen = None
        if request.temperature > 0:  # on the model's device: multinomial refuses a generator elsewhere
            gen = torch.Generator(device=self.model.rope_cos.device)
            if request.seed is not None:
                gen.manual_seed(request.seed)
            else:
                gen.seed()  # a fresh seed, leaving torch's global generator alone
        seq = self.prefix_cache.take(prompt) if self.prefix_cache is not None else CachedSequence([], self._new_cache())
        cached = len(seq.ids)
        try:
            t0 = time.perf_counter()
            h = self._feed(seq, prompt[cached:])[-1]
            t1 = time.perf_counter()
            state = DecodeState(self.tokenizer, request)
            lookup = PromptLookup(prompt, seq.dropped) if self.prompt_lookup and request.temperature <= 0 else None
            token, logprob = self._choose(h, state, request, gen)
            done = state.add(token, logprob) or len(state.ids) >= max_new
            while not done:
                # `token` is chosen but not yet run; drafts guess the ones after it, never more
                # than the tokens still wanted after it
                draft: list[int] = []
                if lookup is not None:
                    lookup.append(token)
                    draft = lookup.draft(max_new - len(state.ids) - 1)
                fed = len(seq.ids)
                hs = self._feed(seq, [token, *draft])  # (1 + len(draft), n_embd)
                for i in range(len(draft) + 1):
                    token, logprob = self._choose(hs[i], state, request, gen)
                    done = state.add(token, logprob) or len(state.ids) >= max_new
                    if done or i == len(draft) or token != draft[i]:
                        break
                    if lookup is not None:  # always, when there was a draft
                        lookup.append(token)
                seq.truncate(fed + i + 1)  # the run token and the drafts accepted before `token`
            t2 = time.perf_counter()
        finally:
            seq.truncate(seq.cache.length)
            if self.prefix_cache is not None:
                self.prefix_cache.put(seq)
        return Generation(
            token_ids=state.ids,
            text=state.text,
            token_logprobs=state.logprobs,
            finish_reason=state.finish,
            prompt_tokens=n_prompt,
            prefill_ms=(t1 - t0) * 1000,
            decode_ms=(t2 - t1) * 1000,
            cached_tokens=cached,
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
