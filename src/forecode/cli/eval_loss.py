"""`forecode eval loss`: a checkpoint's validation loss on a corpus, as training measures it."""

from __future__ import annotations

from pathlib import Path

import click

from forecode.eval.report import emit_metrics


@click.command("loss")
@click.option("--corpus", required=True, type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--model", "model_path", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="Checkpoint folder (default: the embedded forecode-tiny).")
@click.option("--windows", type=click.IntRange(min=1), default=128, show_default=True, help="Validation windows (the trainer's --val-batches x --batch-size).")
@click.option("--fim-rate", type=click.FloatRange(0, 1), default=0.9, show_default=True)
@click.option("--spm-rate", type=click.FloatRange(0, 1), default=0.75, show_default=True)
@click.option("--val-fraction", type=click.FloatRange(0, 0.5), default=0.01, show_default=True)
@click.option("--block-size", type=click.IntRange(min=8), default=None,
              help="Window length in tokens (default: the checkpoint's), to compare checkpoints trained at different lengths.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object, the last line of output.")
def loss(corpus: Path, model_path: Path | None, windows: int, fim_rate: float, spm_rate: float, val_fraction: float,
         block_size: int | None, as_json: bool) -> None:
    """Validation loss (nats/token) of a checkpoint, on the windows training validates on."""
    import torch

    from forecode.eval.loss import validation_loss
    from forecode.model.embedded import embedded_model_path
    from forecode.train.data import FimSettings

    torch.set_num_threads(min(2, torch.get_num_threads()))
    metrics = validation_loss(model_path or embedded_model_path(), corpus, FimSettings(fim_rate, spm_rate), windows, val_fraction,
                              block_size=block_size)
    emit_metrics({**metrics, "fim_rate": fim_rate, "spm_rate": spm_rate}, as_json, "validation loss")


COMMANDS: list[click.Command] = [loss]
