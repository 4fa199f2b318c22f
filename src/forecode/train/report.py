"""Loss curves, as a PNG for the model card:

    python -m forecode.train.report RUN [RUN ...] OUT.png

Each RUN is a run folder (its log.jsonl) or a log file itself, such as the `training-log.jsonl`
a shipped model keeps. Token counts in the logs are cumulative (a run started with --init-from
counts on from its start's tokens), so the phases of a model that was trained in several runs
follow one another on the same axis.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def read_log(run: Path) -> list[dict[str, Any]]:
    """The records of a run folder's log.jsonl, or of the log file `run` itself."""
    path = run / "log.jsonl" if run.is_dir() else run
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_name(run: Path) -> str:
    return run.name if run.is_dir() else run.stem


def plot_losses(runs: list[Path], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for i, run in enumerate(runs):
        log = read_log(run)
        train = [(r["tokens"] / 1e6, r["loss"]) for r in log if "loss" in r and "tokens" in r]
        val = [(r["tokens"] / 1e6, r["val_loss"]) for r in log if "val_loss" in r]
        name = f"{run_name(run)}: " if len(runs) > 1 else ""
        if train:
            ax.plot(*zip(*train), label=f"{name}train (mean of 10 steps)", linewidth=1, color=f"C{2 * i}")
        if val:
            ax.plot(*zip(*val), "o-", label=f"{name}validation", markersize=3, color=f"C{2 * i + 1}")
    ax.set_xlabel("tokens seen (millions)")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(f"{' + '.join(run_name(r) for r in runs)}: training and validation loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python -m forecode.train.report RUN [RUN ...] OUT.png")
    print(plot_losses([Path(a) for a in sys.argv[1:-1]], Path(sys.argv[-1])))
