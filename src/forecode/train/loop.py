"""The training loop: AdamW, warm-up and cosine decay, clipping, validation, checkpoints, resume.

A run lives in one folder (by default under ~/.cache/forecode/runs/): `state.pt` holds all that
exact resume needs (model, optimizer, step, data position, RNG states), `model/` is the latest
checkpoint folder in the shared format, `log.jsonl` has one line per logged step. Starting a run
whose folder has a `state.pt` continues it. SIGINT and SIGTERM save a checkpoint, then stop.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from forecode.errors import InputError
from forecode.model.checkpoint import load_checkpoint, save_checkpoint
from forecode.model.config import ModelConfig
from forecode.model.llama import Llama
from forecode.tokenizer import CodeTokenizer
from forecode.train.data import PAD, FimSettings, Packer, PackerState, RepoPacker, load_documents, load_files
from forecode.train.distributed import (
    all_mean,
    any_flag,
    close_world,
    init_world,
)
from forecode.train.schedule import lr_at


@dataclass(frozen=True)
class TrainConfig:
    corpus: str
    tokenizer: str
    run_dir: str
    model: ModelConfig = field(default_factory=ModelConfig)
    batch_size: int = 16  # sequences per optimizer step, per process
    max_steps: int = 1000
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    fim: FimSettings = field(default_factory=FimSettings)
    val_fraction: float = 0.01
    val_batches: int = 8
    eval_every: int = 200
    log_every: int = 10
    save_every: int = 200
    seed: int = 1234
    dtype: str = "float32"  # autocast dtype: float32 (off), bfloat16
    compile: bool = False
    device: str = "cpu"
    init_from: str | None = None  # a checkpoint folder to start from, with a fresh optimizer
    repo_context: bool = False  # pack files of one package together, FIM on the last (RepoPacker)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        d["model"] = ModelConfig.from_dict(d["model"])
        d["fim"] = FimSettings(**d["fim"])
        return cls(**d)


class _StopFlag:
    """Set by SIGINT/SIGTERM; the loop checks it between steps and saves before leaving."""

    def __init__(self) -> None:
        self.raised = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.raised = True

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _rng_state() -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def _loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the targets that are tokens (`PAD` ones count not)."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD)


def _optimizer(model: Llama, cfg: TrainConfig) -> torch.optim.AdamW:
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = cfg.device.startswith("cuda")
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), eps=1e-8, fused=fused)


class Trainer:
    def __init__(self, cfg: TrainConfig, on_log: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.cfg = cfg
        self.device = torch.device(cfg.device)
        self.world = init_world(self.device)
        if self.device.type == "cuda":
            self.device = torch.device("cuda", self.world.local_rank)
            torch.cuda.set_device(self.device)
            torch.backends.cuda.matmul.allow_tf32 = True
        self.run_dir = Path(cfg.run_dir)
        self.on_log = on_log
        self.tokenizer = CodeTokenizer.from_file(cfg.tokenizer)
        if self.tokenizer.vocab_size > cfg.model.vocab_size:
            raise InputError(f"tokenizer has {self.tokenizer.vocab_size} tokens but the model only {cfg.model.vocab_size}")
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        self.model = Llama(cfg.model).to(self.device)
        self.step = 0
        self.tokens_seen = 0
        self.elapsed_s = 0.0
        self.best_val: float | None = None
        self.history: list[dict[str, Any]] = []
        self._tensorboard: Any = None
        self.packer: Packer
        val_packer: Packer | None
        if cfg.repo_context:
            train_files, val_files = load_files(cfg.corpus, cfg.val_fraction)
            self.n_train_docs, self.n_val_docs = len(train_files), len(val_files)
            self.packer = RepoPacker(train_files, self.tokenizer, cfg.model.block_size, cfg.fim, cfg.seed)
            val_packer = RepoPacker(val_files, self.tokenizer, cfg.model.block_size, cfg.fim, seed=0) if val_files else None
        else:
            train_docs, val_docs = load_documents(cfg.corpus, cfg.val_fraction)
            self.n_train_docs, self.n_val_docs = len(train_docs), len(val_docs)
            self.packer = Packer(train_docs, self.tokenizer, cfg.model.block_size, cfg.fim, cfg.seed)
            val_packer = Packer(val_docs, self.tokenizer, cfg.model.block_size, cfg.fim, seed=0) if val_docs else None
        self.val_data = self._validation_windows(val_packer)
        self.optimizer = _optimizer(self.model, cfg)
        self._resume_or_init()
        self.model_for_step: torch.nn.Module = self.model
        if cfg.compile:
            self.model_for_step = torch.compile(self.model)  # type: ignore[assignment]
        if self.world.size > 1:
            self.model_for_step = DistributedDataParallel(self.model_for_step)

    # -- state -------------------------------------------------------------------------------
    def _validation_windows(self, packer: Packer | None) -> np.ndarray | None:
        """`packer` has a fixed shuffle (seed 0), so the windows come from many files, not the
        first few in corpus order."""
        if packer is None or self.cfg.val_batches == 0:
            return None
        n = self.cfg.val_batches * self.cfg.batch_size
        windows: list[np.ndarray] = []
        while len(windows) < n and packer.state.epoch == 0:  # a small validation set is used once
            windows.append(packer.next_batch(1)[0])
        return np.stack(windows) if windows else None

    def _resume_or_init(self) -> None:
        state_path = self.run_dir / "state.pt"
        if state_path.is_file():
            state = torch.load(state_path, map_location=self.device, weights_only=False)
            saved = TrainConfig.from_dict(state["config"])
            if saved.model != self.cfg.model:
                raise InputError(f"{self.run_dir} holds a run of another architecture ({saved.model}); use a new --run-dir")
            if saved.repo_context != self.cfg.repo_context:
                with_or = "with" if saved.repo_context else "without"
                raise InputError(f"{self.run_dir} holds a run {with_or} --repo-context, whose data position means "
                                 "nothing in the other mode; use a new --run-dir (and --init-from its model)")
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.step, self.tokens_seen, self.elapsed_s = state["step"], state["tokens_seen"], state["elapsed_s"]
            self.best_val = state.get("best_val")
            self.packer.state = PackerState.from_dict(state["data"])
            _set_rng_state(state["rng"])
            self._log({"event": "resume", "step": self.step, "tokens": self.tokens_seen})
        elif self.cfg.init_from:
            ckpt = load_checkpoint(self.cfg.init_from)
            # The weights do not depend on the sequence length, so a run may go on at another one.
            if replace(ckpt.model.config, block_size=self.cfg.model.block_size) != self.cfg.model:
                raise InputError(f"--init-from {self.cfg.init_from} has architecture {ckpt.model.config}, not {self.cfg.model}")
            if ckpt.tokenizer.fingerprint != self.tokenizer.fingerprint:
                raise InputError(f"--init-from {self.cfg.init_from} was trained with another tokenizer than {self.cfg.tokenizer}")
            self.model.load_state_dict(ckpt.model.state_dict())
            self.tokens_seen = int(ckpt.meta.get("training", {}).get("tokens_seen", 0))
            self.elapsed_s = float(ckpt.meta.get("training", {}).get("wall_time_s", 0.0))
            self._log({"event": "init_from", "path": self.cfg.init_from, "tokens": self.tokens_seen})

    def save(self) -> None:
        if not self.world.is_main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "config": self.cfg.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "tokens_seen": self.tokens_seen,
            "elapsed_s": self.elapsed_s,
            "best_val": self.best_val,
            "data": self.packer.state.to_dict(),
            "rng": _rng_state(),
        }
        tmp = self.run_dir / "state.pt.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.run_dir / "state.pt")
        save_checkpoint(self.run_dir / "model", self.model, self.tokenizer, {"fim_order": self.inference_order, "training": self.summary()})

    @property
    def inference_order(self) -> str:
        """The FIM order completions should use: the one the model trained on most."""
        return "spm" if self.cfg.fim.spm_rate >= 0.5 else "psm"

    def summary(self) -> dict[str, Any]:
        return {
            "steps": self.step,
            "tokens_seen": self.tokens_seen,
            "wall_time_s": round(self.elapsed_s, 1),
            "best_val_loss": self.best_val,
            "train_documents": self.n_train_docs,
            "val_documents": self.n_val_docs,
            "parameters": self.model.num_parameters(),
            "config": {k: v for k, v in self.cfg.to_dict().items() if k not in ("model",)},
        }

    # -- steps -------------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.cfg.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=getattr(torch, self.cfg.dtype))

    def _local_batch(self) -> torch.Tensor:
        """This process's share of the global batch: every rank reads the same stream."""
        B = self.cfg.batch_size
        batch = self.packer.next_batch(B * self.world.size)[self.world.rank * B : (self.world.rank + 1) * B]
        return torch.from_numpy(batch).to(self.device, non_blocking=True)

    def train_step(self) -> float:
        cfg = self.cfg
        lr = lr_at(self.step, cfg.lr, cfg.min_lr, cfg.warmup_steps, cfg.max_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = self._local_batch()
        self.model.train()
        with self._autocast():
            logits = self.model_for_step(batch[:, :-1].clamp(min=0))
        loss = _loss(logits, batch[:, 1:])
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.tokens_seen += (batch.shape[0] * (batch.shape[1] - 1)) * self.world.size
        return all_mean(float(loss.item()), self.world, self.device)  # the global batch's loss, the same on every rank

    @torch.no_grad()
    def validate(self) -> float | None:
        if self.val_data is None:
            return None
        self.model.eval()
        losses = []
        B = self.cfg.batch_size
        for i in range(0, len(self.val_data), B):
            batch = torch.from_numpy(self.val_data[i : i + B]).to(self.device)
            with self._autocast():
                logits = self.model(batch[:, :-1].clamp(min=0))
            losses.append(_loss(logits, batch[:, 1:]).item())
        return all_mean(sum(losses) / len(losses), self.world, self.device)

    def _log(self, record: dict[str, Any]) -> None:
        if not self.world.is_main:
            return
        record = {"time": round(time.time(), 1), **record}
        self.history.append(record)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.on_log:
            self.on_log(record)
        self._write_tensorboard(record)

    def _write_tensorboard(self, record: dict[str, Any]) -> None:
        """Scalars to TensorBoard event files in the run folder, when tensorboard is installed."""
        if self._tensorboard is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                self._tensorboard = False
                return
            self._tensorboard = SummaryWriter(str(self.run_dir / "tensorboard"))
        if self._tensorboard is False or "step" not in record:
            return
        for key in ("loss", "val_loss", "lr", "tokens_per_s"):
            if key in record:
                self._tensorboard.add_scalar(key, record[key], record["step"])
        self._tensorboard.flush()

    def run(self, until_step: int | None = None) -> dict[str, Any]:
        """Train to `until_step` (default: max_steps). Returns the training summary."""
        end = min(until_step or self.cfg.max_steps, self.cfg.max_steps)
        window_loss, window_steps, window_start = 0.0, 0, time.time()
        window_tokens = self.tokens_seen
        with _StopFlag() as stop:
            while self.step < end:
                t0 = time.time()
                loss = self.train_step()
                if not math.isfinite(loss):
                    self._log({"event": "non_finite_loss", "step": self.step, "loss": loss})
                    raise RuntimeError(f"loss became {loss} at step {self.step}; lower --lr or check the data")
                self.elapsed_s += time.time() - t0
                window_loss += loss
                window_steps += 1
                if self.step % self.cfg.log_every == 0 or self.step == end:
                    dt = max(time.time() - window_start, 1e-9)
                    self._log({
                        "step": self.step, "tokens": self.tokens_seen, "loss": round(window_loss / window_steps, 4),
                        "lr": lr_at(self.step - 1, self.cfg.lr, self.cfg.min_lr, self.cfg.warmup_steps, self.cfg.max_steps),
                        "tokens_per_s": round((self.tokens_seen - window_tokens) / dt, 1),
                        "elapsed_s": round(self.elapsed_s, 1),
                    })
                    window_loss, window_steps, window_start, window_tokens = 0.0, 0, time.time(), self.tokens_seen
                if self.step % self.cfg.eval_every == 0 or self.step == end:
                    val = self.validate()
                    if val is not None:
                        self.best_val = val if self.best_val is None else min(self.best_val, val)
                        self._log({"step": self.step, "tokens": self.tokens_seen, "val_loss": round(val, 4)})
                if self.step % self.cfg.save_every == 0 or self.step == end:
                    self.save()
                if any_flag(stop.raised, self.world, self.device):
                    self.save()
                    self._log({"event": "stopped", "step": self.step, "reason": "signal"})
                    break
        return self.summary()

    def close(self) -> None:
        close_world(self.world)


def batches_for_tokens(tokens: int, cfg: TrainConfig, world_size: int = 1) -> int:
    return max(1, math.ceil(tokens / (cfg.batch_size * cfg.model.block_size * world_size)))


