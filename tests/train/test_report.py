"""The loss-curve report reads run folders and log files and chains phases on one token axis."""

from __future__ import annotations

import json
from pathlib import Path

from forecode.train.report import plot_losses, read_log, run_name


def write_log(path: Path, start_tokens: int) -> None:
    records = [{"step": s, "tokens": start_tokens + 1000 * s, "loss": 4.0 - s / 100} for s in range(10, 60, 10)]
    records.append({"step": 50, "tokens": start_tokens + 50_000, "val_loss": 3.5})
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_reads_a_run_folder_and_a_log_file(tmp_path: Path) -> None:
    run = tmp_path / "phase-1"
    run.mkdir()
    write_log(run / "log.jsonl", 0)
    write_log(tmp_path / "training-log.jsonl", 50_000)
    assert read_log(run)[0]["tokens"] == 10_000
    assert read_log(tmp_path / "training-log.jsonl")[-1]["val_loss"] == 3.5
    assert (run_name(run), run_name(tmp_path / "training-log.jsonl")) == ("phase-1", "training-log")


def test_plots_phases_into_one_png(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_log(first, 0)
    write_log(second, 50_000)
    out = plot_losses([first, second], tmp_path / "curve.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 5_000
