"""The Transformer: KV-cached decoding equals a full forward pass."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from forecode.errors import CheckpointError
from forecode.model.config import PRESETS, ModelConfig
from forecode.model.llama import KVCache, Llama

CONFIGS = {
    "mha": replace(PRESETS["test"], vocab_size=97, n_kv_head=2),
    "gqa": replace(PRESETS["test"], vocab_size=97, n_head=4, n_kv_head=2),
    "mqa-untied": replace(PRESETS["test"], vocab_size=97, n_head=4, n_kv_head=1, tie_embeddings=False),
}


def _model(config: ModelConfig, seed: int = 0) -> Llama:
    torch.manual_seed(seed)
    model = Llama(config).eval()
    with torch.no_grad():  # larger weights than the init, so differences are not hidden by tiny logits
        for p in model.parameters():
            p.normal_(0.0, 0.2) if p.dim() >= 2 else p.uniform_(0.5, 1.5)
    return model


@pytest.mark.parametrize("name", sorted(CONFIGS))
@torch.no_grad()
def test_cached_decoding_equals_full_forward(name: str) -> None:
    config = CONFIGS[name]
    model = _model(config)
    B, T = 2, 40
    idx = torch.randint(0, config.vocab_size, (B, T), generator=torch.Generator().manual_seed(1))
    full = model(idx)  # (B, T, vocab)
    cache = KVCache.empty(config, B, T, torch.float32, torch.device("cpu"))
    chunks = [model(idx[:, :7], cache), model(idx[:, 7:20], cache)]  # prefill in two chunks
    chunks += [model(idx[:, t : t + 1], cache) for t in range(20, T)]  # then one token at a time
    assert cache.length == T
    torch.testing.assert_close(torch.cat(chunks, dim=1), full, atol=1e-5, rtol=0)


@torch.no_grad()
def test_last_only_and_truncate() -> None:
    config = CONFIGS["gqa"]
    model = _model(config)
    idx = torch.randint(0, config.vocab_size, (1, 24), generator=torch.Generator().manual_seed(2))
    full = model(idx)
    cache = KVCache.empty(config, 1, 32, torch.float32, torch.device("cpu"))
    last = model(idx[:, :16], cache, last_only=True)
    assert last.shape == (1, 1, config.vocab_size)
    torch.testing.assert_close(last[:, 0], full[:, 15], atol=1e-5, rtol=0)
    # Rewind to 10 tokens and decode the rest again: the overwritten slots give the same logits.
    cache.truncate(10)
    again = model(idx[:, 10:24], cache)
    torch.testing.assert_close(again, full[:, 10:24], atol=1e-5, rtol=0)


@torch.no_grad()
def test_causal_future_tokens_do_not_change_past_logits() -> None:
    config = CONFIGS["mha"]
    model = _model(config)
    idx = torch.randint(0, config.vocab_size, (1, 20), generator=torch.Generator().manual_seed(3))
    other = idx.clone()
    other[:, 12:] = (other[:, 12:] + 1) % config.vocab_size
    torch.testing.assert_close(model(idx)[:, :12], model(other)[:, :12], atol=1e-5, rtol=0)


def test_too_long_inputs_are_rejected() -> None:
    config = replace(CONFIGS["mha"], block_size=8)
    model = _model(config)
    with pytest.raises(ValueError, match="exceeds the model's 16 positions"):
        model(torch.zeros(1, 17, dtype=torch.long))
    cache = KVCache.empty(config, 1, 4, torch.float32, torch.device("cpu"))
    with pytest.raises(ValueError, match="exceeds the cache's 4 slots"):
        model(torch.zeros(1, 5, dtype=torch.long), cache)


@pytest.mark.parametrize(("kw", "msg"), [({"n_embd": 30, "n_head": 4}, "n_embd 30"), ({"n_head": 4, "n_kv_head": 3}, "n_kv_head 3")])
def test_inconsistent_config_names_the_values(kw: dict[str, int], msg: str) -> None:
    with pytest.raises(CheckpointError, match=msg):
        replace(PRESETS["test"], **kw)
