"""The training loop: exact resume from state.pt, checkpoints, schedule."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from forecode.corpus.build import BuildOptions, build_corpus
from forecode.engine.builtin import BuiltinEngine
from forecode.errors import InputError
from forecode.model.checkpoint import load_checkpoint
from forecode.model.config import PRESETS
from forecode.tokenizer import CodeTokenizer
from forecode.train.data import FimSettings
from forecode.train.loop import TrainConfig, Trainer
from forecode.train.schedule import lr_at


def tiny_config(corpus: Path, tokenizer_path: Path, run_dir: Path, vocab: int, **kw: Any) -> TrainConfig:
    base = dict(
        corpus=str(corpus), tokenizer=str(tokenizer_path), run_dir=str(run_dir),
        model=replace(PRESETS["test"], vocab_size=vocab, block_size=64),
        batch_size=2, max_steps=8, warmup_steps=2, lr=1e-2, min_lr=1e-3,
        fim=FimSettings(fim_rate=0.5, spm_rate=0.5), val_fraction=0.3, val_batches=1,
        log_every=1, save_every=4, eval_every=4, compile=False, seed=3,
    )
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def read_log(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def step_losses(run_dir: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_log(run_dir) if "loss" in r}


@pytest.mark.parametrize("repo_context", [False, True])
def test_resume_continues_the_identical_run(
    tiny_corpus: Path, tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, tmp_path: Path, repo_context: bool
) -> None:
    vocab = tiny_tokenizer.vocab_size
    a, b = tmp_path / "a", tmp_path / "b"
    whole = Trainer(tiny_config(tiny_corpus, tiny_tokenizer_path, a, vocab, repo_context=repo_context))
    whole.run()
    first = Trainer(tiny_config(tiny_corpus, tiny_tokenizer_path, b, vocab, repo_context=repo_context))
    first.run(until_step=4)
    assert first.step == 4 and (b / "state.pt").is_file()
    del first
    second = Trainer(tiny_config(tiny_corpus, tiny_tokenizer_path, b, vocab, repo_context=repo_context))
    assert second.step == 4
    second.run()

    la, lb = step_losses(a), step_losses(b)
    assert sorted(la) == sorted(lb) == list(range(1, 9))
    for step in range(1, 9):
        assert lb[step] == pytest.approx(la[step], abs=1e-6), (step, la, lb)
    assert any(r.get("event") == "resume" and r["step"] == 4 for r in read_log(b))
    val_a = [r["val_loss"] for r in read_log(a) if "val_loss" in r]
    val_b = [r["val_loss"] for r in read_log(b) if "val_loss" in r]
    assert len(val_a) == 2 and val_a == val_b
    assert whole.tokens_seen == second.tokens_seen == 8 * 2 * 64
    with torch.no_grad():
        for (name, pa), pb in zip(whole.model.state_dict().items(), second.model.state_dict().values()):
            torch.testing.assert_close(pa, pb, atol=1e-6, rtol=0, msg=name)


def test_loss_decreases_and_checkpoint_loads(
    tiny_corpus: Path, tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, tmp_path: Path
) -> None:
    cfg = tiny_config(tiny_corpus, tiny_tokenizer_path, tmp_path / "r", tiny_tokenizer.vocab_size, max_steps=30, log_every=10, eval_every=30, save_every=30, warmup_steps=5)
    trainer = Trainer(cfg)
    summary = trainer.run()
    losses = step_losses(tmp_path / "r")
    assert sorted(losses) == [10, 20, 30]
    assert losses[30] < losses[10]
    assert summary["steps"] == 30 and summary["tokens_seen"] == 30 * 2 * 64
    ckpt = load_checkpoint(tmp_path / "r" / "model")
    assert ckpt.meta["training"]["steps"] == 30
    assert ckpt.meta["fim_order"] == "spm"  # trained on SPM half the time or more: prompts use SPM
    assert BuiltinEngine.from_checkpoint(tmp_path / "r" / "model").fim_order == "spm"
    assert ckpt.tokenizer.fingerprint == tiny_tokenizer.fingerprint
    idx = torch.randint(0, cfg.model.vocab_size, (1, 20))
    trainer.model.eval()
    with torch.no_grad():
        assert torch.equal(ckpt.model(idx), trainer.model(idx))


def test_resume_with_another_architecture_is_refused(
    tiny_corpus: Path, tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, tmp_path: Path
) -> None:
    vocab = tiny_tokenizer.vocab_size
    Trainer(tiny_config(tiny_corpus, tiny_tokenizer_path, tmp_path, vocab, max_steps=1)).run()
    other = tiny_config(tiny_corpus, tiny_tokenizer_path, tmp_path, vocab, model=replace(PRESETS["test"], vocab_size=vocab, n_layer=1, block_size=64))
    with pytest.raises(InputError, match="another architecture"):
        Trainer(other)


def test_resume_in_the_other_packing_mode_is_refused(
    tiny_corpus: Path, tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, tmp_path: Path
) -> None:
    vocab = tiny_tokenizer.vocab_size
    Trainer(tiny_config(tiny_corpus, tiny_tokenizer_path, tmp_path, vocab, max_steps=1)).run()
    with pytest.raises(InputError, match="without --repo-context"):
        Trainer(tiny_config(tiny_corpus, tiny_tokenizer_path, tmp_path, vocab, max_steps=1, repo_context=True))


def test_a_config_saved_before_repo_context_loads_as_default_packing(tiny_corpus: Path, tiny_tokenizer_path: Path) -> None:
    saved = tiny_config(tiny_corpus, tiny_tokenizer_path, Path("run"), 600).to_dict()
    del saved["repo_context"]  # as state.pt files written before the option existed hold it
    assert TrainConfig.from_dict(saved).repo_context is False


def test_repo_context_packs_files_of_a_package_with_separators(
    tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, tmp_path: Path
) -> None:
    src = tmp_path / "src" / "pkg"
    src.mkdir(parents=True)
    for i in range(6):
        (src / f"mod_{i}.py").write_text(f"def helper_{i}(value):\n    return value * {i} + {i * i}\n")
    corpus = tmp_path / "corpus"
    build_corpus(BuildOptions(out=corpus, folders=(tmp_path / "src",), languages=("python",)), workers=1, progress=False)
    cfg = tiny_config(corpus, tiny_tokenizer_path, tmp_path / "run", tiny_tokenizer.vocab_size, max_steps=1,
                      val_fraction=0.0, repo_context=True)
    windows = Trainer(cfg).packer.next_batch(4)
    assert (windows == tiny_tokenizer.special.file_sep).any()
    assert "pkg/mod_" in tiny_tokenizer.decode([int(t) for t in windows.reshape(-1) if t >= 0])


def test_init_from_a_checkpoint(
    tiny_corpus: Path, tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, tmp_path: Path
) -> None:
    vocab = tiny_tokenizer.vocab_size
    Trainer(tiny_config(tiny_corpus, tiny_tokenizer_path, tmp_path / "a", vocab, max_steps=2)).run()
    child = Trainer(tiny_config(tiny_corpus, tiny_tokenizer_path, tmp_path / "b", vocab, init_from=str(tmp_path / "a" / "model")))
    parent = load_checkpoint(tmp_path / "a" / "model")
    assert child.step == 0 and child.tokens_seen == 2 * 2 * 64
    for (name, p), q in zip(parent.model.state_dict().items(), child.model.state_dict().values()):
        assert torch.equal(p, q), name


def test_tokenizer_larger_than_model_is_refused(tiny_corpus: Path, tiny_tokenizer_path: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="tokens but the model only 100"):
        Trainer(tiny_config(tiny_corpus, tiny_tokenizer_path, tmp_path, 100))


def test_schedule_warms_up_then_decays_to_the_floor() -> None:
    lrs = [lr_at(s, 1.0, 0.1, 10, 100) for s in range(110)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(x >= y for x, y in zip(lrs[9:100], lrs[10:100]))
    assert lrs[99] == pytest.approx(0.1, abs=1e-3) and lrs[105] == 0.1


def test_init_from_goes_on_at_another_sequence_length(
    tiny_corpus: Path, tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, tmp_path: Path
) -> None:
    vocab = tiny_tokenizer.vocab_size
    Trainer(tiny_config(tiny_corpus, tiny_tokenizer_path, tmp_path / "a", vocab, max_steps=2)).run()
    longer = replace(PRESETS["test"], vocab_size=vocab, block_size=128)
    child = Trainer(tiny_config(tiny_corpus, tiny_tokenizer_path, tmp_path / "b", vocab, model=longer, batch_size=1,
                                max_steps=2, init_from=str(tmp_path / "a" / "model")))
    assert child.model.config.block_size == 128 and child.tokens_seen == 2 * 2 * 64
    child.run()
    assert load_checkpoint(tmp_path / "b" / "model").model.config.block_size == 128
