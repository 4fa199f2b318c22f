"""`forecode eval loss`: the validation loss of a checkpoint, on the windows training uses."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from cli_errors import one_line_error
from engine.tiny_models import random_model

from forecode.cli import main
from forecode.eval.loss import validation_loss
from forecode.model.checkpoint import save_checkpoint
from forecode.tokenizer import CodeTokenizer
from forecode.train.data import FimSettings


@pytest.fixture(scope="module")
def checkpoint(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ckpt") / "random"
    save_checkpoint(folder, random_model(tiny_tokenizer_path), tiny_tokenizer, {})
    return folder


def test_an_untrained_model_scores_about_the_uniform_loss(checkpoint: Path, tiny_corpus: Path, tiny_tokenizer: CodeTokenizer) -> None:
    m = validation_loss(checkpoint, tiny_corpus, FimSettings(), windows=4, val_fraction=0.5)
    assert m["windows"] == 4 and 0 < m["tokens"] <= 4 * 128
    assert abs(m["loss"] - math.log(tiny_tokenizer.vocab_size)) < 0.5


def test_cli_prints_the_loss_as_json(checkpoint: Path, tiny_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "loss", "--corpus", str(tiny_corpus), "--model", str(checkpoint), "--windows", "2", "--val-fraction", "0.5", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert metrics["windows"] == 2 and metrics["spm_rate"] == 0.75 and metrics["loss"] > 0


def test_a_corpus_without_validation_files_is_an_error(checkpoint: Path, tiny_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_error(["eval", "loss", "--corpus", str(tiny_corpus), "--model", str(checkpoint), "--val-fraction", "0"], capsys)
    assert "no validation documents" in err


def test_windows_of_another_length(checkpoint: Path, tiny_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = validation_loss(checkpoint, tiny_corpus, FimSettings(), windows=2, val_fraction=0.5, block_size=32)
    assert m["block_size"] == 32 and 0 < m["tokens"] <= 2 * 32
    err = one_line_error(["eval", "loss", "--corpus", str(tiny_corpus), "--model", str(checkpoint), "--val-fraction", "0.5",
                          "--block-size", "100000"], capsys)
    assert "exceed the model's" in err
