"""The `hf` backend: any local Hugging Face causal-LM folder, run by transformers.

The folder must hold the weights, config.json and a fast tokenizer (tokenizer.json). A folder
that forecode wrote (an exported or training checkpoint: it has forecode.json) uses forecode's
tokenizer and FIM order; any other gets its family's FIM template, detected from the
vocabulary or named. Generation keeps transformers' KV cache and runs forecode's own decode
loop, so healing, stop rules, cancellation and log-probabilities behave as in the built-in
engine. Nothing is downloaded: the folder is opened with local_files_only.
"""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from forecode.engine.base import Generation, GenerationRequest
from forecode.engine.decoding import check_room, decode_loop
from forecode.errors import InputError
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.foreign import ForeignTokenizer
from forecode.tokenizer.healing import TokenHealer
from forecode.tokenizer.protocol import ModelTokenizer
from forecode.tokenizer.templates import FimTemplate, PromptFormat


class HFEngine:
    def __init__(self, model: Any, tokenizer: ModelTokenizer, prompt_format: PromptFormat, context_length: int) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self._format = prompt_format
        self._context_length = context_length
        self.healer = TokenHealer(tokenizer)
        # transformers 5.x renames forward's past_key_values to cache (the old name still works, with a warning)
        self._cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    @classmethod
    def from_folder(cls, folder: str | Path, threads: int | None = None, template: FimTemplate | None = None,
                    context_length: int | None = None) -> HFEngine:
        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise InputError(f"{folder} is not a Hugging Face model folder (no config.json)")
        if threads:
            torch.set_num_threads(threads)
        try:
            from transformers import AutoModelForCausalLM
        except ImportError:
            raise InputError("the hf backend needs transformers: pip install 'forecode[hf]'") from None
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # no progress bars or notices on stderr
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise InputError(f"transformers cannot load {folder}: {exc}") from None
        tokenizer: ModelTokenizer
        meta_path = folder / "forecode.json"
        if meta_path.is_file() and template is None:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            ours = CodeTokenizer.from_file(folder / "tokenizer.json")
            order = meta.get("fim_order", "psm")
            if order not in ("psm", "spm"):
                raise InputError(f"{meta_path} asks for FIM order {order!r}; expected 'psm' or 'spm'")
            tokenizer, fmt = ours, PromptFormat.forecode(ours.special, order)
        else:
            foreign = ForeignTokenizer.from_folder(folder, template)
            tokenizer, fmt = foreign, foreign.format
        positions = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
        return cls(model, tokenizer, fmt, min(positions, context_length or positions))

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def prompt_format(self) -> PromptFormat:
        return self._format

    @torch.inference_mode()
    def generate(self, request: GenerationRequest) -> Generation:
        max_new = check_room(request, self._context_length)
        t0 = time.perf_counter()
        out = self.model(input_ids=torch.tensor([request.prompt_ids]), use_cache=True, logits_to_keep=1)
        past = _cache_of(out)
        first = _row(out.logits)
        t1 = time.perf_counter()

        def step(token: int) -> npt.NDArray[np.float32]:
            nonlocal past
            o = self.model(input_ids=torch.tensor([[token]]), use_cache=True, **{self._cache_arg: past})
            past = _cache_of(o)
            return _row(o.logits)

        state = decode_loop(self.tokenizer, self.healer, request, max_new, first, step)
        t2 = time.perf_counter()
        return Generation(state.ids, state.text, state.logprobs, state.finish, len(request.prompt_ids),
                          (t1 - t0) * 1000, (t2 - t1) * 1000)

    @torch.inference_mode()
    def score(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        """One forward pass over prompt + continuation for each continuation."""
        if not prompt_ids:
            raise InputError("empty prompt")
        scores = []
        for c in continuations:
            if len(prompt_ids) + len(c) > self._context_length:
                raise InputError(f"prompt of {len(prompt_ids)} tokens and a continuation of {len(c)} tokens exceed "
                                 f"the model's {self._context_length} positions")
            if not c:
                scores.append(0.0)
                continue
            logits = self.model(input_ids=torch.tensor([prompt_ids + c[:-1]])).logits[0, len(prompt_ids) - 1 :]
            logp = torch.log_softmax(logits[:, : self.tokenizer.vocab_size].float(), dim=-1)
            scores.append(float(logp[torch.arange(len(c)), torch.tensor(c)].sum()))
        return scores


def _cache_of(output: Any) -> Any:
    """The KV cache a forward pass returned (`cache` in transformers 5.x, `past_key_values` before)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def _row(logits: torch.Tensor) -> npt.NDArray[np.float32]:
    """The last position's logits as float32 numpy: (1, T, vocab) -> (vocab,)."""
    return np.asarray(logits[0, -1].float().numpy(), dtype=np.float32)
