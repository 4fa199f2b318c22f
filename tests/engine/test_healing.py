"""Token healing: which prompts are backed off, and generation honouring the backed-off text."""

from __future__ import annotations

import pytest

from forecode.engine.base import GenerationRequest
from forecode.engine.builtin import BuiltinEngine
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.healing import TokenHealer


def test_prompt_ending_mid_identifier_is_backed_off(tiny_tokenizer: CodeTokenizer) -> None:
    ids = tiny_tokenizer.encode("import json\nx = json.lo")
    last = tiny_tokenizer.token_bytes[ids[-1]]
    assert last == b"lo"
    healed = TokenHealer(tiny_tokenizer).heal(ids)
    assert healed.ids == ids[:-1]
    assert healed.backed_off == b"lo"
    assert any(len(b) > len(last) and b.startswith(last) for b in tiny_tokenizer.token_bytes)


def test_indentation_after_newline_is_backed_off(tiny_tokenizer: CodeTokenizer) -> None:
    healed = TokenHealer(tiny_tokenizer).heal(tiny_tokenizer.encode("def f():\n    "))
    assert healed.backed_off == b"    "  # the model may choose deeper indentation in one token


@pytest.mark.parametrize("prompt", ["x = 1\n", "def f():\n", "\n", "class A:\n    pass\n"])
def test_prompt_ending_in_newline_is_untouched(tiny_tokenizer: CodeTokenizer, prompt: str) -> None:
    ids = tiny_tokenizer.encode(prompt)
    healed = TokenHealer(tiny_tokenizer).heal(ids)
    assert healed.ids == ids
    assert healed.backed_off == b""


def test_no_token_extends_a_newline(tiny_tokenizer: CodeTokenizer) -> None:
    assert [b for b in tiny_tokenizer.token_bytes if b.startswith(b"\n") and b != b"\n"] == []


def test_empty_prompt_is_untouched(tiny_tokenizer: CodeTokenizer) -> None:
    assert TokenHealer(tiny_tokenizer).heal([]).ids == []


@pytest.mark.parametrize("remaining", [b"lo", b"    ", b" =", b"s", b"json.lo"])
def test_allowed_is_exactly_the_consistent_tokens(tiny_tokenizer: CodeTokenizer, remaining: bytes) -> None:
    table = tiny_tokenizer.token_bytes
    special = tiny_tokenizer.special.all()
    allowed = TokenHealer(tiny_tokenizer).allowed(remaining)
    expected = [
        i for i, b in enumerate(table)
        if i not in special and b and (b.startswith(remaining) or remaining.startswith(b))
    ]
    assert allowed == expected
    assert allowed  # some single byte always fits
    assert not special & set(allowed)
    assert all(table[i].startswith(remaining) or remaining.startswith(table[i]) for i in allowed)


@pytest.mark.parametrize("forced", [b"lo", b"    ", b"json.lo", b" ="])
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_generation_honours_the_forced_prefix(random_engine: BuiltinEngine, forced: bytes, temperature: float) -> None:
    tok = random_engine.tokenizer
    prompt = tok.encode("import json\n\nx = ")
    for seed in range(3):
        gen = random_engine.generate(
            GenerationRequest(prompt, max_new_tokens=12, temperature=temperature, seed=seed, forced_prefix=forced)
        )
        spelled = b"".join(tok.token_bytes[i] for i in gen.token_ids)
        assert spelled.startswith(forced), (forced, spelled)
        assert spelled[len(forced):].decode("utf-8", errors="replace") == gen.text
