"""`forecode train`: train a model on a corpus, resuming from the run folder when it can."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from forecode.model.config import PRESETS
from forecode.train.data import FimSettings
from forecode.train.loop import TrainConfig, Trainer

DEFAULT_RUNS = Path.home() / ".cache" / "forecode" / "runs"


def _print_log(record: dict[str, Any]) -> None:
    if "loss" in record and "tokens_per_s" in record:
        click.echo(
            f"step {record['step']:>6}  tokens {record['tokens'] / 1e6:7.2f}M  loss {record['loss']:.4f}  "
            f"lr {record['lr']:.2e}  {record['tokens_per_s']:.0f} tok/s",
            err=True,
        )
    else:
        click.echo(json.dumps(record), err=True)


@click.command()
@click.option("--corpus", required=True, type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--tokenizer", "tokenizer_path", required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--run-dir", type=click.Path(path_type=Path, file_okay=False), default=None, help=f"Run folder (default {DEFAULT_RUNS}/NAME); resumed when it holds state.pt.")
@click.option("--name", default="forecode-tiny", show_default=True, help="Run name under the default runs folder.")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="tiny", show_default=True)
@click.option("--n-layer", type=int, default=None)
@click.option("--n-embd", type=int, default=None)
@click.option("--n-head", type=int, default=None)
@click.option("--n-kv-head", type=int, default=None)
@click.option("--intermediate-size", type=int, default=None)
@click.option("--block-size", type=int, default=None, help="Training sequence length in tokens.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True, help="Sequences per step, per process.")
@click.option("--tokens", type=float, default=None, help="Token budget for the schedule (sets --max-steps).")
@click.option("--max-steps", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--until-step", type=click.IntRange(min=1), default=None, help="Stop (and save) at this step; the schedule still spans --max-steps.")
@click.option("--lr", type=float, default=3e-3, show_default=True)
@click.option("--min-lr", type=float, default=3e-4, show_default=True)
@click.option("--warmup-steps", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--weight-decay", type=float, default=0.1, show_default=True)
@click.option("--grad-clip", type=float, default=1.0, show_default=True)
@click.option("--fim-rate", type=click.FloatRange(0, 1), default=0.9, show_default=True)
@click.option("--spm-rate", type=click.FloatRange(0, 1), default=0.75, show_default=True, help="Share of FIM examples in SPM order; at 0.5 or more, checkpoints ask for SPM prompts.")
@click.option("--val-fraction", type=click.FloatRange(0, 0.5), default=0.01, show_default=True)
@click.option("--val-batches", type=click.IntRange(min=0), default=8, show_default=True)
@click.option("--eval-every", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--log-every", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--save-every", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--seed", type=int, default=1234, show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "bfloat16"]), default="float32", show_default=True, help="Autocast dtype (bfloat16 on CUDA).")
@click.option("--compile/--no-compile", "compile_", default=False, show_default=True, help="torch.compile the model.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:0 ...")
@click.option("--repo-context", is_flag=True, default=False, help="Pack files of one package together with file separators, FIM on the last file (repository-level context); off: one file at a time.")
@click.option("--init-from", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None, help="Start from a checkpoint folder with a fresh optimizer.")
def train(
    corpus: Path, tokenizer_path: Path, run_dir: Path | None, name: str, preset: str,
    n_layer: int | None, n_embd: int | None, n_head: int | None, n_kv_head: int | None,
    intermediate_size: int | None, block_size: int | None, batch_size: int, tokens: float | None,
    max_steps: int, until_step: int | None, lr: float, min_lr: float, warmup_steps: int,
    weight_decay: float, grad_clip: float, fim_rate: float, spm_rate: float, val_fraction: float,
    val_batches: int, eval_every: int, log_every: int, save_every: int, seed: int, dtype: str,
    compile_: bool, device: str, repo_context: bool, init_from: Path | None,
) -> None:
    """Train a Llama-architecture model with the FIM objective; Ctrl-C saves and stops."""
    from forecode.tokenizer import CodeTokenizer

    overrides: dict[str, Any] = {
        k: v for k, v in dict(
            n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_kv_head=n_kv_head,
            intermediate_size=intermediate_size, block_size=block_size,
        ).items() if v is not None
    }
    if n_head is not None and n_kv_head is None:
        overrides["n_kv_head"] = n_head
    vocab = CodeTokenizer.from_file(tokenizer_path).vocab_size
    model = replace(PRESETS[preset], vocab_size=vocab, **overrides)
    if tokens is not None:
        world = int(__import__("os").environ.get("WORLD_SIZE", "1"))
        max_steps = max(1, round(tokens / (batch_size * model.block_size * world)))
    cfg = TrainConfig(
        corpus=str(corpus), tokenizer=str(tokenizer_path), run_dir=str(run_dir or DEFAULT_RUNS / name),
        model=model, batch_size=batch_size, max_steps=max_steps, lr=lr, min_lr=min_lr,
        warmup_steps=warmup_steps, weight_decay=weight_decay, grad_clip=grad_clip,
        fim=FimSettings(fim_rate=fim_rate, spm_rate=spm_rate), val_fraction=val_fraction,
        val_batches=val_batches, eval_every=eval_every, log_every=log_every, save_every=save_every,
        seed=seed, dtype=dtype, compile=compile_, device=device,
        init_from=str(init_from) if init_from else None, repo_context=repo_context,
    )
    trainer = Trainer(cfg, on_log=_print_log)
    if trainer.world.is_main:
        click.echo(
            f"Training {trainer.model.num_parameters() / 1e6:.2f}M parameters on {trainer.n_train_docs} documents "
            f"({trainer.n_val_docs} held out for validation) in {cfg.run_dir}, from step {trainer.step} to {until_step or max_steps} of {max_steps}.",
            err=True,
        )
    try:
        summary = trainer.run(until_step)
    finally:
        trainer.close()
    if trainer.world.is_main:
        click.echo(f"Checkpoint in {Path(cfg.run_dir) / 'model'}: step {summary['steps']}, {summary['tokens_seen'] / 1e6:.2f}M tokens, best validation loss {summary['best_val_loss']}.")
