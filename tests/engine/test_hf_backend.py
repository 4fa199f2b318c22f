"""The hf backend: a transformers causal-LM folder behind the Engine interface."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from forecode.completer import Completer, CompletionRequest
from forecode.engine.base import GenerationRequest
from forecode.engine.builtin import BuiltinEngine
from forecode.engine.loading import EngineOptions, load_engine
from forecode.errors import InputError
from forecode.model.embedded import embedded_model_path

from tokenizer.families import DOCUMENTED, byte_level

PROMPTS = ["import os\n\ndef read(path):\n    with open(", "class Stack:\n    def push(self, item):\n        self.",
           "for i in range(10):\n    print("]


@pytest.fixture(scope="module")
def engines() -> tuple[BuiltinEngine, object]:
    folder = embedded_model_path()  # a forecode checkpoint folder loads in transformers as it is
    return BuiltinEngine.from_checkpoint(folder), load_engine("hf", folder)


def test_hf_backend_on_our_weights_generates_what_the_builtin_engine_does(engines: tuple) -> None:
    builtin, hf = engines
    assert hf.prompt_format.template.name == "forecode" and hf.prompt_format.layout == builtin.prompt_format.layout
    for text in PROMPTS:
        ids = builtin.tokenizer.encode(text)
        a = builtin.generate(GenerationRequest(ids, max_new_tokens=12))
        b = hf.generate(GenerationRequest(ids, max_new_tokens=12))
        assert b.token_ids == a.token_ids
        assert b.token_logprobs == pytest.approx(a.token_logprobs, abs=1e-3)
    ids = builtin.tokenizer.encode(PROMPTS[0])
    conts = [builtin.tokenizer.encode(s) for s in ["path", "self", "os.path.join(path)"]]
    assert hf.score(ids, conts) == pytest.approx(builtin.score(ids, conts), abs=1e-3)


def test_hf_backend_serves_the_completer_with_healing(engines: tuple) -> None:
    builtin, hf = engines
    req = CompletionRequest(text="import os\nprint(os.pa", cursor=len("import os\nprint(os.pa"), max_tokens=8)
    a, b = Completer(builtin).complete(req), Completer(hf).complete(req)
    assert b.debug["healed"] == a.debug["healed"] != ""
    assert [s.text for s in b.suggestions] == [s.text for s in a.suggestions]


def test_a_foreign_folder_gets_its_family_template(tmp_path: Path) -> None:
    """A StarCoder-style vocabulary in a random-weight Llama folder: the prompt is StarCoder's."""
    from transformers import LlamaConfig, LlamaForCausalLM

    special, _ = DOCUMENTED["starcoder"]
    tok = byte_level(special)
    tok.save(str(tmp_path / "tokenizer.json"))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|endoftext|>"}))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    engine = load_engine("hf", tmp_path)
    assert engine.prompt_format.template.name == "starcoder" and engine.context_length == 256
    result = Completer(engine).complete(CompletionRequest(text="def f(x):\n    return x\n", cursor=14, max_tokens=6))
    prompt = result.debug["prompt"]
    assert prompt.startswith("<fim_prefix>def f(x):\n") and prompt.endswith("<fim_middle>") and "<fim_suffix>" in prompt
    assert result.debug["fim_template"] == "starcoder"
    named = load_engine("hf", tmp_path, options=EngineOptions(template="prefix-only"))
    assert named.prompt_format.prompt([], [], [5, 6], [7]) == [5, 6]


def test_hf_backend_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="needs --model"):
        load_engine("hf")
    with pytest.raises(InputError, match="does not exist"):
        load_engine("hf", tmp_path / "nope")
    with pytest.raises(InputError, match="no config.json"):
        load_engine("hf", tmp_path)
    with pytest.raises(InputError, match="unknown FIM template"):
        load_engine("hf", tmp_path, options=EngineOptions(template="gpt5"))


def test_hf_backend_loads_the_exported_folder(engines: tuple, tmp_path: Path) -> None:
    from forecode.model.export_hf import export_hf

    builtin, _ = engines
    folder = export_hf(embedded_model_path(), tmp_path / "forecode-tiny-hf")
    hf = load_engine("hf", folder)
    assert hf.prompt_format.template.name == "forecode"
    req = CompletionRequest(text=PROMPTS[1] + "\n", cursor=len(PROMPTS[1]), max_tokens=10)
    assert [s.text for s in Completer(hf).complete(req).suggestions] == [s.text for s in Completer(builtin).complete(req).suggestions]
