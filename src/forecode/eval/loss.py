"""Held-out loss of a checkpoint on a corpus's validation split, windows made as training makes
them, so checkpoints (and FIM settings) compare on the same data."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from forecode.errors import InputError
from forecode.model.checkpoint import load_checkpoint
from forecode.train.data import PAD, FimSettings, Packer, load_documents


@torch.inference_mode()
def validation_loss(
    checkpoint: str | Path, corpus: str | Path, fim: FimSettings, windows: int = 128,
    val_fraction: float = 0.01, batch: int = 16, block_size: int | None = None,
) -> dict[str, float | int]:
    """Mean cross-entropy in nats per token over `windows` windows of the validation split, each
    of `block_size` tokens (default: the checkpoint's; a shorter one compares checkpoints trained
    at different lengths on the same windows)."""
    ckpt = load_checkpoint(checkpoint)
    _, val_docs = load_documents(corpus, val_fraction)
    if not val_docs:
        raise InputError(f"corpus {corpus} has no validation documents at --val-fraction {val_fraction}")
    block = block_size or ckpt.model.config.block_size
    if block + 1 > ckpt.model.max_positions:
        raise InputError(f"windows of {block} tokens exceed the model's {ckpt.model.max_positions} positions")
    packer = Packer(val_docs, ckpt.tokenizer, block, fim, seed=0)  # the trainer's validation windows
    data = torch.from_numpy(packer.next_batch(windows))
    total, count = 0.0, 0
    for i in range(0, windows, batch):
        b = data[i : i + batch]
        logits = ckpt.model(b[:, :-1].clamp(min=0))
        targets = b[:, 1:].reshape(-1)
        total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets, ignore_index=PAD, reduction="sum"))
        count += int((targets != PAD).sum())
    return {"loss": round(total / count, 4), "tokens": count, "windows": windows, "block_size": block,
            "val_documents": len(val_docs)}
