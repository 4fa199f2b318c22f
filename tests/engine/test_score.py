"""Scoring continuations: the cached, batched sum equals log-softmax over one plain forward pass."""

from __future__ import annotations

import pytest
import torch

from forecode.engine import builtin
from forecode.engine.builtin import BuiltinEngine
from forecode.errors import InputError

CODE = "import json\n\n\ndef load(path):\n    with open(path) as f:\n        return json."


def full_pass_score(engine: BuiltinEngine, prompt: list[int], continuation: list[int]) -> float:
    """The slow way: one forward pass over prompt + continuation, no cache, summing log-softmax."""
    with torch.inference_mode():
        logits = engine.model(torch.tensor([prompt + continuation]))[0, :, : engine.tokenizer.vocab_size].float()
    logp = torch.log_softmax(logits, dim=-1)  # (T, vocab)
    return sum(float(logp[len(prompt) - 1 + j, t]) for j, t in enumerate(continuation))


def continuations(engine: BuiltinEngine) -> list[list[int]]:
    tok = engine.tokenizer
    eot = tok.special.eot
    return [
        tok.encode("load") + [eot],
        tok.encode("dumps(f.read())"),
        tok.encode("x"),
        [eot],
        tok.encode("loads(f.read(), object_hook=None)\n") + [eot],
        tok.encode("load"),  # a prefix of the first one, scored on its own row
    ]


def test_scores_equal_a_full_forward_pass(random_engine: BuiltinEngine) -> None:
    prompt = random_engine.tokenizer.encode(CODE)
    conts = continuations(random_engine)
    assert len({len(c) for c in conts}) >= 4  # different lengths share a padded batch
    got = random_engine.score(prompt, conts)
    expected = [full_pass_score(random_engine, prompt, c) for c in conts]
    assert got == pytest.approx(expected, abs=1e-4)
    assert all(s < 0 for s in got)


@pytest.mark.parametrize(("limit", "value"), [("SCORE_BATCH_TOKENS", 3), ("SCORE_BATCH_CACHE_BYTES", 1)])
def test_scores_do_not_depend_on_how_continuations_are_grouped(
    random_engine: BuiltinEngine, monkeypatch: pytest.MonkeyPatch, limit: str, value: int
) -> None:
    prompt = random_engine.tokenizer.encode(CODE)
    conts = continuations(random_engine)
    together = random_engine.score(prompt, conts)
    monkeypatch.setattr(builtin, limit, value)  # groups of one or two rows
    apart = random_engine.score(prompt, conts)
    alone = [random_engine.score(prompt, [c])[0] for c in conts]
    assert apart == pytest.approx(together, abs=1e-4)
    assert alone == pytest.approx(together, abs=1e-4)


def test_memorised_continuation_scores_highest(memorised_engine: BuiltinEngine) -> None:
    from .tiny_models import CURSORS, taught_example

    tok = memorised_engine.tokenizer
    prompt, _, target = taught_example(tok, CURSORS[0])
    wrong = tok.encode(" = 42") + [tok.special.eot]
    right, other = memorised_engine.score(prompt, [target, wrong])
    assert right > -1.0  # memorised: probability above e^-1
    assert right > other


def test_empty_continuation_scores_zero(random_engine: BuiltinEngine) -> None:
    prompt = random_engine.tokenizer.encode(CODE)
    assert random_engine.score(prompt, [[], random_engine.tokenizer.encode("x")])[0] == 0.0
    assert random_engine.score(prompt, []) == []


def test_too_long_input_raises_input_error(random_engine: BuiltinEngine) -> None:
    n = random_engine.model.max_positions  # 256 for the test preset
    prompt = [random_engine.tokenizer.special.fim_prefix] * (n - 2)
    assert len(random_engine.score(prompt, [[5, 6]])) == 1  # exactly fills the positions
    with pytest.raises(InputError, match=rf"{n - 2} tokens and a continuation of 3 tokens exceed the model's {n} positions"):
        random_engine.score(prompt, [[5], [5, 6, 7]])


def test_bad_inputs_raise_input_error(random_engine: BuiltinEngine) -> None:
    with pytest.raises(InputError, match="empty prompt"):
        random_engine.score([], [[5]])
    vocab = random_engine.tokenizer.vocab_size
    with pytest.raises(InputError, match=f"token id {vocab} is outside the vocabulary"):
        random_engine.score([5], [[5, vocab]])
