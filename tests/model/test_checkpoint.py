"""Checkpoint folders: a save/load round trip, and clear errors for broken folders."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from forecode.errors import CheckpointError
from forecode.model.checkpoint import FILES, load_checkpoint, save_checkpoint
from forecode.model.config import PRESETS, ModelConfig
from forecode.model.llama import Llama
from forecode.tokenizer import CodeTokenizer, train_tokenizer


def _saved(tmp_path: Path, tok: CodeTokenizer, **kw: object) -> tuple[Llama, Path]:
    config = replace(PRESETS["test"], vocab_size=tok.vocab_size, **kw)  # type: ignore[arg-type]
    torch.manual_seed(0)
    model = Llama(config).eval()
    return model, save_checkpoint(tmp_path / "ckpt", model, tok, {"training": {"steps": 3}})


@pytest.mark.parametrize("tied", [True, False])
def test_round_trip_gives_identical_logits(tiny_tokenizer: CodeTokenizer, tmp_path: Path, tied: bool) -> None:
    model, folder = _saved(tmp_path, tiny_tokenizer, tie_embeddings=tied)
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    ckpt = load_checkpoint(folder)
    assert ckpt.model.config == model.config
    assert ckpt.tokenizer.fingerprint == tiny_tokenizer.fingerprint
    assert ckpt.meta["training"] == {"steps": 3}
    assert ckpt.meta["fim_order"] == "psm"
    assert ckpt.meta["special_tokens"]["fim_middle"] == "<|fim_middle|>"
    idx = torch.randint(0, model.config.vocab_size, (2, 30))
    with torch.no_grad():
        assert torch.equal(ckpt.model(idx), model(idx))
    if tied:
        assert ckpt.model.lm_head.weight is ckpt.model.model.embed_tokens.weight


def test_saving_over_an_existing_folder_replaces_it(tiny_tokenizer: CodeTokenizer, tmp_path: Path) -> None:
    _, folder = _saved(tmp_path, tiny_tokenizer)
    (folder / "stale.txt").write_text("old")
    torch.manual_seed(1)
    other = Llama(replace(PRESETS["test"], vocab_size=tiny_tokenizer.vocab_size)).eval()
    save_checkpoint(folder, other, tiny_tokenizer, {})
    assert not (folder / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temporary folders left
    idx = torch.randint(0, 100, (1, 10))
    with torch.no_grad():
        assert torch.equal(load_checkpoint(folder).model(idx), other(idx))


def test_config_without_forecode_section_loads_from_hf_fields() -> None:
    cfg = replace(PRESETS["test"], vocab_size=600)
    hf = cfg.to_hf(bos_token_id=0, eos_token_id=0)
    del hf["forecode"]
    assert ModelConfig.from_hf(hf) == cfg
    del hf["hidden_size"]
    with pytest.raises(CheckpointError, match="'hidden_size'"):
        ModelConfig.from_hf(hf)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nowhere does not exist"):
        load_checkpoint(tmp_path / "nowhere")


@pytest.mark.parametrize("name", FILES)
def test_missing_file(tiny_tokenizer: CodeTokenizer, tmp_path: Path, name: str) -> None:
    _, folder = _saved(tmp_path, tiny_tokenizer)
    (folder / name).unlink()
    with pytest.raises(CheckpointError, match=rf"lacks {name}"):
        load_checkpoint(folder)


@pytest.mark.parametrize("name", ["config.json", "forecode.json"])
def test_malformed_json(tiny_tokenizer: CodeTokenizer, tmp_path: Path, name: str) -> None:
    _, folder = _saved(tmp_path, tiny_tokenizer)
    (folder / name).write_text('{"vocab_size": 6')
    with pytest.raises(CheckpointError, match="malformed JSON"):
        load_checkpoint(folder)


def test_config_json_lacking_fields(tiny_tokenizer: CodeTokenizer, tmp_path: Path) -> None:
    _, folder = _saved(tmp_path, tiny_tokenizer)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(CheckpointError, match="config.json lacks 'vocab_size'"):
        load_checkpoint(folder)


def test_tokenizer_mismatch(tiny_tokenizer: CodeTokenizer, tmp_path: Path) -> None:
    _, folder = _saved(tmp_path, tiny_tokenizer)
    other = train_tokenizer(["def other(a, b):\n    return a - b\n"] * 20, vocab_size=300)
    other.save(folder / "tokenizer.json")
    with pytest.raises(CheckpointError, match="does not match the one the model was trained with"):
        load_checkpoint(folder)


def test_weights_that_do_not_fit_the_config(tiny_tokenizer: CodeTokenizer, tmp_path: Path) -> None:
    _, folder = _saved(tmp_path, tiny_tokenizer)
    _, other = _saved(tmp_path / "b", tiny_tokenizer, n_layer=1)
    shutil.copyfile(other / "model.safetensors", folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="weights do not fit the config"):
        load_checkpoint(folder)


def test_weights_of_another_shape(tiny_tokenizer: CodeTokenizer, tmp_path: Path) -> None:
    _, folder = _saved(tmp_path, tiny_tokenizer)
    _, other = _saved(tmp_path / "b", tiny_tokenizer, n_embd=64, n_head=2)
    shutil.copyfile(other / "model.safetensors", folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="weights do not fit the config.*embed_tokens"):
        load_checkpoint(folder)
