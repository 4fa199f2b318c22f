"""`forecode train` end to end: exit codes, SIGTERM saves and stops, a two-process DDP run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from forecode.cli import main
from forecode.model.checkpoint import load_checkpoint

FORECODE = Path(sys.executable).parent / "forecode"
TORCHRUN = Path(sys.executable).parent / "torchrun"
TINY = ["--preset", "test", "--block-size", "64", "--batch-size", "2", "--warmup-steps", "2", "--val-fraction", "0"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _log(run_dir: Path) -> list[dict[str, object]]:
    path = run_dir / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def test_missing_corpus_is_exit_code_2(tiny_tokenizer_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--corpus", str(tmp_path / "nope"), "--tokenizer", str(tiny_tokenizer_path), "--run-dir", str(tmp_path / "r"), *TINY])
    assert code == 2
    err = capsys.readouterr().err
    assert "--corpus" in err and "nope" in err and "does not exist" in err
    assert not (tmp_path / "r").exists()


def test_folder_that_is_not_a_corpus_is_exit_code_2(tiny_tokenizer_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    code = main(["train", "--corpus", str(tmp_path / "empty"), "--tokenizer", str(tiny_tokenizer_path), "--run-dir", str(tmp_path / "r"), *TINY])
    assert code == 2
    assert "is not a corpus folder" in capsys.readouterr().err


def test_init_from_another_architecture_is_exit_code_2(
    tiny_corpus: Path, tiny_tokenizer_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["train", "--corpus", str(tiny_corpus), "--tokenizer", str(tiny_tokenizer_path), *TINY, "--max-steps", "1"]
    assert main([*common, "--run-dir", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "model" / "config.json").is_file()
    capsys.readouterr()
    code = main([*common, "--run-dir", str(tmp_path / "b"), "--n-layer", "1", "--init-from", str(tmp_path / "a" / "model")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --init-from") and "has architecture" in err and "Traceback" not in err


def test_sigterm_saves_and_stops_cleanly(tiny_corpus: Path, tiny_tokenizer_path: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    cmd = [
        str(FORECODE), "train", "--corpus", str(tiny_corpus), "--tokenizer", str(tiny_tokenizer_path),
        "--run-dir", str(run_dir), *TINY, "--max-steps", "1000000", "--log-every", "1",
        "--save-every", "1000000", "--eval-every", "1000000",
    ]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 90
        while not any("loss" in r for r in _log(run_dir)):
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "no training step logged within 90 s"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    records = _log(run_dir)
    stopped = [r for r in records if r.get("event") == "stopped"]
    assert len(stopped) == 1 and stopped[0]["reason"] == "signal"
    assert records[-1] is not None and records[-1].get("event") == "stopped"
    assert (run_dir / "state.pt").is_file() and not (run_dir / "state.pt.tmp").exists()
    ckpt = load_checkpoint(run_dir / "model")
    assert ckpt.meta["training"]["steps"] == stopped[0]["step"] >= 1
    assert "Checkpoint in" in out


@pytest.mark.skipif(not TORCHRUN.is_file() or not FORECODE.is_file(), reason="needs torchrun and the forecode script")
def test_two_process_ddp_on_cpu(tiny_corpus: Path, tiny_tokenizer_path: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "ddp"
    cmd = [
        str(TORCHRUN), "--nproc_per_node", "2", "--standalone", "--no-python", str(FORECODE), "train",
        "--corpus", str(tiny_corpus), "--tokenizer", str(tiny_tokenizer_path), "--run-dir", str(run_dir),
        *TINY, "--max-steps", "3", "--log-every", "1", "--save-every", "3", "--eval-every", "3",
    ]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    records = _log(run_dir)
    steps = [r for r in records if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]  # one process logs, once per step
    assert [r["tokens"] for r in steps] == [2 * 2 * 64 * s for s in (1, 2, 3)]
    ckpt = load_checkpoint(run_dir / "model")
    assert ckpt.meta["training"]["tokens_seen"] == 3 * 2 * 2 * 64
    assert not list(run_dir.glob(".model.*"))  # no temporary folders left behind

    # Two processes of batch 2 train exactly as one process of batch 4 (gradients are averaged).
    single = tmp_path / "single"
    args = ["train", "--corpus", str(tiny_corpus), "--tokenizer", str(tiny_tokenizer_path), "--run-dir", str(single), *TINY]
    assert main([*args, "--batch-size", "4", "--max-steps", "3", "--log-every", "1", "--save-every", "3", "--eval-every", "3"]) == 0
    expected = [r["loss"] for r in _log(single) if "loss" in r]
    assert [r["loss"] for r in steps] == pytest.approx(expected, abs=2e-4)
    reference = load_checkpoint(single / "model").model.state_dict()
    for name, p in ckpt.model.state_dict().items():
        torch.testing.assert_close(p, reference[name], atol=1e-5, rtol=1e-4, msg=name)
