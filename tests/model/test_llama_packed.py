"""The packed inference layout computes what the Llama computes: prefill in chunks and decoding
one token or several at a time, with MHA, GQA and MQA, tied or untied embeddings."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from forecode.model.llama import KVCache, PackedLlama

from .test_llama import CONFIGS, _model

@pytest.mark.parametrize("name", sorted(CONFIGS))
@torch.no_grad()
def test_packed_decoding_equals_the_llamas_full_forward(name: str) -> None:
    config = CONFIGS[name]
    model = _model(config)
    packed = PackedLlama(model)
    B, T = 2, 40
    idx = torch.randint(0, config.vocab_size, (B, T), generator=torch.Generator().manual_seed(1))
    full = model(idx)  # (B, T, vocab)
    cache = KVCache.empty(config, B, T, torch.float32, torch.device("cpu"))
    chunks = [packed.hidden(idx[:, :7], cache), packed.hidden(idx[:, 7:20], cache)]  # prefill in two chunks
    chunks += [packed.hidden(idx[:, t : t + 4], cache) for t in range(20, 32, 4)]  # drafts verified four at a time
    chunks += [packed.hidden(idx[:, t : t + 1], cache) for t in range(32, T)]  # one token at a time
    assert cache.length == T
    torch.testing.assert_close(packed.logits(torch.cat(chunks, dim=1)), full, atol=1e-4, rtol=1e-5)
    assert packed.logits(chunks[-1][0, -1]).shape == (config.vocab_size,)


@torch.no_grad()
def test_packed_weights_are_a_copy_and_the_cache_is_the_llamas() -> None:
    config = CONFIGS["gqa"]
    model = _model(config)
    packed = PackedLlama(model)
    idx = torch.randint(0, config.vocab_size, (1, 12), generator=torch.Generator().manual_seed(2))
    cache = KVCache.empty(config, 1, 16, torch.float32, torch.device("cpu"))
    packed.hidden(idx[:, :8], cache)  # the packed layout fills the cache, the Llama continues it
    torch.testing.assert_close(model(idx[:, 8:], cache), model(idx)[:, 8:], atol=1e-4, rtol=1e-5)
    before = packed.logits(torch.ones(config.n_embd))
    model.lm_head.weight.add_(1.0)
    torch.testing.assert_close(packed.logits(torch.ones(config.n_embd)), before)


def test_too_long_inputs_are_rejected() -> None:
    config = replace(CONFIGS["mha"], block_size=8)
    packed = PackedLlama(_model(config))
    cache = KVCache.empty(config, 1, 4, torch.float32, torch.device("cpu"))
    with pytest.raises(ValueError, match="exceeds the cache's 4 slots"):
        packed.hidden(torch.zeros(1, 5, dtype=torch.long), cache)
