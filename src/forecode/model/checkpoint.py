"""Checkpoint folders: config.json, model.safetensors, tokenizer.json, forecode.json.

A folder describes itself: it loads with no other knowledge, in forecode and in transformers.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from forecode.errors import CheckpointError
from forecode.model.config import ModelConfig
from forecode.model.llama import Llama
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.special import (
    END_OF_TEXT,
    FILE_SEP,
    FIM_MIDDLE,
    FIM_PREFIX,
    FIM_SUFFIX,
)

FILES = ("config.json", "model.safetensors", "tokenizer.json", "forecode.json")


@dataclass(frozen=True)
class Checkpoint:
    model: Llama
    tokenizer: CodeTokenizer
    meta: dict[str, Any] = field(default_factory=dict)  # forecode.json: FIM layout, training summary


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_checkpoint(
    folder: str | Path, model: Llama, tokenizer: CodeTokenizer, meta: dict[str, Any], dtype: torch.dtype = torch.float32
) -> Path:
    """Write the folder atomically: into a sibling temporary folder, then renamed into place."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    cfg = model.config
    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    if cfg.tie_embeddings:
        state.pop("lm_head.weight", None)  # transformers re-ties it from embed_tokens
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    _write_json(tmp / "config.json", cfg.to_hf(bos_token_id=tokenizer.special.eot, eos_token_id=tokenizer.special.eot))
    tokenizer.save(tmp / "tokenizer.json")
    full_meta = {
        "special_tokens": {
            "end_of_text": END_OF_TEXT,
            "fim_prefix": FIM_PREFIX,
            "fim_suffix": FIM_SUFFIX,
            "fim_middle": FIM_MIDDLE,
            "file_sep": FILE_SEP,
        },
        "fim_order": "psm",
        "tokenizer_sha256": tokenizer.fingerprint,
        **meta,
    }
    _write_json(tmp / "forecode.json", full_meta)
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old")
        if old.exists():
            shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, folder)
    return folder


def load_checkpoint(folder: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> Checkpoint:
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint folder {folder} does not exist")
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise CheckpointError(f"checkpoint folder {folder} lacks {', '.join(missing)}")
    try:
        hf = json.loads((folder / "config.json").read_text())
        meta = json.loads((folder / "forecode.json").read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{folder}: malformed JSON: {exc}") from None
    config = ModelConfig.from_hf(hf)
    tokenizer = CodeTokenizer.from_file(folder / "tokenizer.json")
    if meta.get("tokenizer_sha256") not in (None, tokenizer.fingerprint):
        raise CheckpointError(f"{folder}: tokenizer.json does not match the one the model was trained with")
    if tokenizer.vocab_size > config.vocab_size:
        raise CheckpointError(f"{folder}: tokenizer has {tokenizer.vocab_size} tokens, model only {config.vocab_size}")
    model = Llama(config)
    state = load_file(str(folder / "model.safetensors"))
    if config.tie_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    shapes = model.state_dict()
    wrong = [
        f"{k} {tuple(v.shape)} != {tuple(shapes[k].shape)}"
        for k, v in state.items()
        if k in shapes and v.shape != shapes[k].shape
    ]
    if wrong:
        raise CheckpointError(f"{folder}: weights do not fit the config ({', '.join(wrong[:3])})")
    missing_keys, unexpected = model.load_state_dict(state, strict=False)
    if missing_keys or unexpected:
        raise CheckpointError(f"{folder}: weights do not fit the config (missing {missing_keys[:3]}, unexpected {unexpected[:3]})")
    model.to(device=device, dtype=dtype).eval()
    return Checkpoint(model=model, tokenizer=tokenizer, meta=meta)
