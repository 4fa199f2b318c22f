"""FIM templates against each family's documented special tokens and layout."""

from __future__ import annotations

import pytest

from forecode.errors import InputError
from forecode.tokenizer.fim import repo_fim_prompt
from forecode.tokenizer.foreign import ForeignTokenizer
from .families import DOCUMENTED, PREFIX, SUFFIX, byte_level
from forecode.tokenizer.templates import TEMPLATES, PromptFormat, detect_template, template_by_name, template_for_model_name

@pytest.mark.parametrize("family", sorted(DOCUMENTED))
def test_each_family_is_detected_from_its_tokens_and_renders_its_documented_prompt(family: str) -> None:
    special, documented = DOCUMENTED[family]
    t = detect_template(special)
    assert t.name == family
    assert t.render(PREFIX, SUFFIX) == documented


@pytest.mark.parametrize("family", ["starcoder", "deepseek", "qwen", "codegemma"])
def test_token_prompt_uses_the_family_token_ids(family: str) -> None:
    special, documented = DOCUMENTED[family]
    ft = ForeignTokenizer(byte_level(special))
    assert ft.template.name == family
    fmt = ft.format
    ids = fmt.prompt([], [], ft.encode(PREFIX), ft.encode(SUFFIX))
    assert ft.decode(ids) == documented  # the ids spell out the documented prompt
    t = TEMPLATES[family]
    assert ids[0] == ft._tok.token_to_id(t.prefix) and ids[-1] == ft._tok.token_to_id(t.middle)
    for name in t.stops:  # the family's end tokens stop a suggestion
        if name in special:
            assert ft._tok.token_to_id(name) in ft.stop_ids
    assert fmt.special.eot in ft.stop_ids


def test_forecode_template_equals_the_training_layout() -> None:
    from forecode.model.embedded import embedded_model_path
    from forecode.tokenizer import CodeTokenizer

    tok = CodeTokenizer.from_file(embedded_model_path() / "tokenizer.json")
    assert detect_template(tok._tok.get_vocab(with_added_tokens=True)).name == "forecode"
    p, s, f, h = tok.encode(PREFIX), tok.encode(SUFFIX), [tok.encode("a.py\nx = 1\n")], tok.encode("b.py\n")
    for order in ("psm", "spm"):
        fmt = PromptFormat.forecode(tok.special, order)
        assert fmt.prompt(f, h, p, s) == repo_fim_prompt(f, h, p, s, tok.special, order)


def test_families_without_file_separator_leave_context_files_out() -> None:
    special, _ = DOCUMENTED["deepseek"]
    ft = ForeignTokenizer(byte_level(special))
    assert not ft.format.repository_level
    ids = ft.format.prompt([ft.encode("a.py\nx = 1\n")], ft.encode("b.py\n"), ft.encode(PREFIX), ft.encode(SUFFIX))
    assert ft.decode(ids) == DOCUMENTED["deepseek"][1]
    qwen = ForeignTokenizer(byte_level(DOCUMENTED["qwen"][0]))
    assert qwen.format.repository_level
    ids = qwen.format.prompt([qwen.encode("a.py\nx = 1\n")], qwen.encode("b.py\n"), qwen.encode(PREFIX), qwen.encode(SUFFIX))
    assert qwen.decode(ids) == "<|file_sep|>a.py\nx = 1\n<|file_sep|>b.py\n" + DOCUMENTED["qwen"][1]


def test_a_vocabulary_without_fim_tokens_gets_the_prefix_only_template() -> None:
    ft = ForeignTokenizer(byte_level(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]))
    assert ft.template.name == "prefix-only"
    assert ft.format.prompt([], [], ft.encode(PREFIX), ft.encode(SUFFIX)) == ft.encode(PREFIX)


def test_naming_a_template_the_vocabulary_lacks_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="no '<fim_prefix>'.*starcoder"):
        ForeignTokenizer(byte_level(DOCUMENTED["qwen"][0]), template_by_name("starcoder"))
    with pytest.raises(InputError, match="unknown FIM template 'gpt5'"):
        template_by_name("gpt5")


def test_model_names_point_to_families() -> None:
    assert template_for_model_name("Qwen/Qwen2.5-Coder-7B") is TEMPLATES["qwen"]
    assert template_for_model_name("bigcode/starcoder2-3b") is TEMPLATES["starcoder"]
    assert template_for_model_name("deepseek-coder-1.3b-base.Q4_K_M.gguf") is TEMPLATES["deepseek"]
    assert template_for_model_name("llama-3-8b") is None


def test_foreign_token_bytes_round_trip_real_code() -> None:
    ft = ForeignTokenizer(byte_level(DOCUMENTED["starcoder"][0]))
    for text in ["def f(x):\n    return x  # ünïcødé 🙂 中文\n", "", "\t\t\n"]:
        ids = ft.encode(text)
        assert b"".join(ft.token_bytes[i] for i in ids) == text.encode()
        assert ft.decode(ids) == text
    assert ft.encode("<fim_prefix>") != [ft._tok.token_to_id("<fim_prefix>")]  # text never becomes a special token
