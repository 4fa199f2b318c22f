"""The built-in engine: KV-cached decoding, sampling, and the three ways generation ends."""

from __future__ import annotations

import pytest
import torch

from forecode.engine.base import GenerationRequest
from forecode.engine.builtin import BuiltinEngine
from forecode.errors import InputError

from .tiny_models import CURSORS, document_at, taught_example

CODE = "import json\n\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n"


def greedy_without_cache(engine: BuiltinEngine, prompt: list[int], max_new: int) -> tuple[list[int], list[float]]:
    """Greedy decoding the slow way: a full forward pass over the whole sequence per token."""
    ids, out, logprobs = list(prompt), [], []
    special = engine.tokenizer.special.all()
    with torch.inference_mode():
        for _ in range(max_new):
            logits = engine.model(torch.tensor([ids]))[0, -1, : engine.tokenizer.vocab_size].float()
            next_id = int(torch.argmax(logits))
            if next_id in special:
                break
            out.append(next_id)
            logprobs.append(float(torch.log_softmax(logits, dim=-1)[next_id]))
            ids.append(next_id)
    return out, logprobs


def test_cached_greedy_equals_full_forward_passes(random_engine: BuiltinEngine) -> None:
    prompt = random_engine.tokenizer.encode(CODE)
    gen = random_engine.generate(GenerationRequest(prompt, max_new_tokens=24))
    expected_ids, expected_logprobs = greedy_without_cache(random_engine, prompt, 24)
    assert gen.token_ids == expected_ids
    assert gen.token_logprobs == pytest.approx(expected_logprobs, abs=1e-4)
    assert gen.text == random_engine.tokenizer.decode(gen.token_ids)
    assert gen.prompt_tokens == len(prompt)


def test_seeded_sampling_is_reproducible(random_engine: BuiltinEngine) -> None:
    prompt = random_engine.tokenizer.encode(CODE)

    def sample(seed: int) -> list[int]:
        return random_engine.generate(GenerationRequest(prompt, max_new_tokens=12, temperature=1.0, seed=seed)).token_ids

    assert sample(7) == sample(7)
    assert len({tuple(sample(seed)) for seed in range(4)}) > 1


def test_tiny_top_p_is_greedy(random_engine: BuiltinEngine) -> None:
    prompt = random_engine.tokenizer.encode(CODE)
    greedy = random_engine.generate(GenerationRequest(prompt, max_new_tokens=12))
    for seed in range(3):
        nucleus = random_engine.generate(
            GenerationRequest(prompt, max_new_tokens=12, temperature=1.5, top_p=1e-6, seed=seed)
        )
        assert nucleus.token_ids == greedy.token_ids


def test_max_new_tokens_is_respected(random_engine: BuiltinEngine) -> None:
    prompt = random_engine.tokenizer.encode(CODE)
    gen = random_engine.generate(GenerationRequest(prompt, max_new_tokens=5))
    assert len(gen.token_ids) == len(gen.token_logprobs) == 5
    assert gen.finish_reason == "max_tokens"


def test_generation_stops_at_the_models_last_position(random_engine: BuiltinEngine) -> None:
    room = 3
    prompt = (random_engine.tokenizer.encode(CODE) * 40)[: random_engine.model.max_positions - room]
    gen = random_engine.generate(GenerationRequest(prompt, max_new_tokens=64))
    assert len(gen.token_ids) == room
    assert gen.finish_reason == "max_tokens"


def test_memorised_continuation_ends_with_end_of_text(memorised_engine: BuiltinEngine) -> None:
    cursor = CURSORS[2]
    prompt, forced, _ = taught_example(memorised_engine.tokenizer, cursor)
    gen = memorised_engine.generate(GenerationRequest(prompt, max_new_tokens=32, forced_prefix=forced))
    assert gen.text == document_at(cursor)[1]
    assert gen.finish_reason == "end_of_text"
    assert memorised_engine.tokenizer.special.eot not in gen.token_ids
    assert len(gen.token_logprobs) == len(gen.token_ids)
    assert all(lp <= 0 for lp in gen.token_logprobs)


def test_stop_when_ends_generation_with_stop_rule(memorised_engine: BuiltinEngine) -> None:
    cursor = CURSORS[0]  # the rest of the line: `message = "hello, " + name`
    prompt, forced, _ = taught_example(memorised_engine.tokenizer, cursor)
    seen: list[str] = []

    def stop_at_plus(text: str) -> bool:
        seen.append(text)
        return "+" in text

    gen = memorised_engine.generate(GenerationRequest(prompt, max_new_tokens=32, forced_prefix=forced, stop_when=stop_at_plus))
    assert gen.finish_reason == "stop_rule"
    assert gen.text.endswith("+") or gen.text.rstrip().endswith("+")
    assert "name" not in gen.text.split("+", 1)[1]
    assert seen[-1] == gen.text


@pytest.mark.parametrize(
    ("prompt_len", "max_new", "message"),
    [(0, 8, "empty prompt"), (256, 8, "256 tokens"), (300, 8, "300 tokens"), (10, 0, "max_new_tokens")],
)
def test_bad_requests_raise_input_error(random_engine: BuiltinEngine, prompt_len: int, max_new: int, message: str) -> None:
    assert random_engine.model.max_positions == 256
    prompt = [random_engine.tokenizer.special.fim_prefix] * prompt_len
    with pytest.raises(InputError, match=message):
        random_engine.generate(GenerationRequest(prompt, max_new_tokens=max_new))


def test_unseeded_sampling_leaves_the_global_generator_alone(random_engine: BuiltinEngine) -> None:
    prompt = random_engine.tokenizer.encode(CODE)
    torch.manual_seed(99)
    expected = torch.rand(3)
    torch.manual_seed(99)
    random_engine.generate(GenerationRequest(prompt, max_new_tokens=4, temperature=1.0))
    assert torch.equal(torch.rand(3), expected)
