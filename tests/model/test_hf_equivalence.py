"""Our logits equal transformers' LlamaForCausalLM loaded from the same checkpoint folder."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from forecode.model.checkpoint import save_checkpoint
from forecode.model.config import PRESETS
from forecode.model.llama import Llama
from forecode.tokenizer import CodeTokenizer

transformers = pytest.importorskip("transformers")


@pytest.mark.parametrize(
    ("n_head", "n_kv_head", "tied"),
    [(2, 2, True), (4, 2, True), (4, 1, False)],
    ids=["tied-mha", "tied-gqa", "untied-mqa"],
)
def test_logits_match_transformers(
    tiny_tokenizer: CodeTokenizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n_head: int, n_kv_head: int, tied: bool
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    config = replace(
        PRESETS["test"], vocab_size=tiny_tokenizer.vocab_size, n_head=n_head, n_kv_head=n_kv_head, tie_embeddings=tied,
        rope_theta=5000.0, norm_eps=1e-6,
    )
    torch.manual_seed(0)
    ours = Llama(config).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0.0, 0.1) if p.dim() >= 2 else p.uniform_(0.5, 1.5)  # RMSNorm weights too
    folder = save_checkpoint(tmp_path / "ckpt", ours, tiny_tokenizer, {})
    hf_config = json.loads((folder / "config.json").read_text())
    assert hf_config["tie_word_embeddings"] is tied

    theirs = transformers.LlamaForCausalLM.from_pretrained(folder, torch_dtype=torch.float32).eval()
    assert theirs.config.num_key_value_heads == n_kv_head
    if not tied:
        assert not torch.equal(theirs.lm_head.weight, theirs.model.embed_tokens.weight)

    idx = torch.randint(0, config.vocab_size, (2, 50), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = theirs(idx).logits
        got = ours(idx)
    assert got.abs().max() > 0.1  # logits big enough to make the comparison mean something
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
