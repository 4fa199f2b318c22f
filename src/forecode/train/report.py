"""Loss curves of a run, as a PNG for the model card: `python -m forecode.train.report RUN_DIR OUT.png`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def read_log(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_losses(run_dir: Path, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = read_log(run_dir)
    train = [(r["tokens"] / 1e6, r["loss"]) for r in log if "loss" in r and "tokens" in r]
    val = [(r["tokens"] / 1e6, r["val_loss"]) for r in log if "val_loss" in r]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot(*zip(*train), label="train (mean of 10 steps)", linewidth=1)
    if val:
        ax.plot(*zip(*val), "o-", label="validation", markersize=3)
    ax.set_xlabel("tokens seen (millions)")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(f"{run_dir.name}: training and validation loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m forecode.train.report RUN_DIR OUT.png")
    print(plot_losses(Path(sys.argv[1]), Path(sys.argv[2])))
