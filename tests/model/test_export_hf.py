"""The Hugging Face export of the shipped model: transformers loads it offline, its logits and
greedy continuations equal ours, and its tokenizer gives our ids and decodes back to the text."""

from __future__ import annotations

import json
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from forecode.errors import InputError
from forecode.model.checkpoint import Checkpoint, load_checkpoint
from forecode.model.embedded import embedded_model_path
from forecode.model.export_hf import export_hf

transformers = pytest.importorskip("transformers")

STDLIB = Path(sysconfig.get_paths()["stdlib"])
REAL_CODE = ("json/decoder.py", "textwrap.py", "string.py", "functools.py")
ODD_TEXTS = (
    "",
    "def greet():\n    return '😀 héllo 日本語 中文'\n",
    "\t\tx = 1\r\n\r\n  # 🐍🐍 — « » ½\n",
    "a" * 300 + " 1234567 0x1F +=-=**",
    "   \n\n\n        \n",
)
ATOL = 1e-5  # measured: 0.0 (the same safetensors, the same float32 arithmetic)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:  # nothing downloads, ever
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield export_hf(embedded_model_path(), tmp_path_factory.mktemp("export") / "forecode-tiny-hf")


@pytest.fixture(scope="module")
def ours() -> Checkpoint:
    return load_checkpoint(embedded_model_path())


@pytest.fixture(scope="module")
def hf_tokenizer(exported: Path) -> Any:
    return transformers.AutoTokenizer.from_pretrained(exported)


def _code(rel: str) -> str:
    return (STDLIB / rel).read_text(encoding="utf-8")


def test_folder_has_the_transformers_files(exported: Path) -> None:
    names = {p.name for p in exported.iterdir()}
    assert names == {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
                     "tokenizer_config.json", "special_tokens_map.json", "forecode.json"}
    assert load_checkpoint(exported).tokenizer.vocab_size == 8192  # still a forecode checkpoint too


def test_logits_equal_ours(exported: Path, ours: Checkpoint) -> None:
    theirs = transformers.AutoModelForCausalLM.from_pretrained(exported, dtype=torch.float32).eval()
    ids = torch.tensor([ours.tokenizer.encode(_code("json/decoder.py"))[:200]])
    with torch.no_grad():
        expected = ours.model(ids)
        got = theirs(ids).logits
    assert expected.abs().max() > 1.0
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


def test_greedy_generation_equals_ours(exported: Path, ours: Checkpoint) -> None:
    theirs = transformers.AutoModelForCausalLM.from_pretrained(exported, dtype=torch.float32).eval()
    prompt = ours.tokenizer.encode("import os\n\n\ndef read_lines(path):\n    with open(path) as f:\n")
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(16):
            ids.append(int(ours.model(torch.tensor([ids]))[0, -1].argmax()))
        generated = theirs.generate(torch.tensor([prompt]), max_new_tokens=16, do_sample=False)
    assert generated[0].tolist()[: len(ids)] == ids  # shorter only if it stopped at a special token


def test_tokenizer_is_fast_with_our_special_tokens(hf_tokenizer: Any, ours: Checkpoint) -> None:
    tok = hf_tokenizer
    assert isinstance(tok, transformers.PreTrainedTokenizerFast)
    assert (tok.bos_token, tok.eos_token, tok.unk_token, tok.pad_token) == ("<|endoftext|>",) * 4
    special = ours.tokenizer.special
    assert tok.eos_token_id == special.eot
    assert tok.convert_tokens_to_ids(["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>"]) == [
        special.fim_prefix, special.fim_suffix, special.fim_middle, special.file_sep]
    assert set(tok.all_special_tokens) == {"<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>"}
    assert tok("x = 1").input_ids == ours.tokenizer.encode("x = 1")  # no bos or eos added


@pytest.mark.parametrize("rel", REAL_CODE)
def test_ids_equal_ours_on_real_code(hf_tokenizer: Any, ours: Checkpoint, rel: str) -> None:
    text = _code(rel)
    ids = hf_tokenizer.encode(text, add_special_tokens=False)
    assert ids == ours.tokenizer.encode(text)
    assert hf_tokenizer.decode(ids) == text


@pytest.mark.parametrize("text", ODD_TEXTS, ids=["empty", "emoji-cjk", "tabs-crlf", "long-run", "blank-lines"])
def test_ids_equal_ours_on_emoji_cjk_and_blanks(hf_tokenizer: Any, ours: Checkpoint, text: str) -> None:
    ids = hf_tokenizer.encode(text, add_special_tokens=False)
    assert ids == ours.tokenizer.encode(text)
    assert hf_tokenizer.decode(ids) == text


def test_fim_markers_in_text_are_special_unless_split(exported: Path, hf_tokenizer: Any, ours: Checkpoint) -> None:
    """A server that gets a FIM prompt as text needs the markers read as tokens; forecode's own
    rule (text never becomes a special token) is one flag away."""
    prompt = "<|fim_prefix|>def f():\n    <|fim_suffix|>\n<|fim_middle|>"
    special = ours.tokenizer.special
    ids = hf_tokenizer.encode(prompt, add_special_tokens=False)
    assert [i for i in ids if i in special.all()] == [special.fim_prefix, special.fim_suffix, special.fim_middle]
    literal = transformers.AutoTokenizer.from_pretrained(exported, split_special_tokens=True)
    assert literal.encode(prompt, add_special_tokens=False) == ours.tokenizer.encode(prompt)


def test_generation_config_stops_at_special_tokens(exported: Path, ours: Checkpoint) -> None:
    config = transformers.GenerationConfig.from_pretrained(exported)
    assert config.eos_token_id[0] == ours.tokenizer.special.eot
    assert set(config.eos_token_id) == set(ours.tokenizer.special.all())
    assert config.pad_token_id == ours.tokenizer.special.eot
    assert json.loads((exported / "config.json").read_text())["tie_word_embeddings"] is True


def test_refuses_to_overwrite_or_read_nothing(exported: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=f"{exported} already exists"):
        export_hf(embedded_model_path(), exported)
    with pytest.raises(InputError, match="nowhere.*does not exist"):
        export_hf(tmp_path / "nowhere", tmp_path / "out")
    assert not (tmp_path / "out").exists()
