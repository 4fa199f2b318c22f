"""The GGUF export: the file reads back with the right metadata and weights, and llama.cpp
(through llama-cpp-python) computes our logits and our greedy continuations from it.

The shipped model is exported once per dtype per module; llama.cpp gets our token ids
(`Llama.eval`), since its own text-to-ids splits text differently (see export_gguf's docstring).
"""

from __future__ import annotations

import ctypes
import difflib
import json
import sysconfig
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

from forecode.engine.llamacpp import load_llama
from forecode.errors import InputError
from forecode.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from forecode.model.config import PRESETS
from forecode.model.embedded import embedded_model_path
from forecode.model.export_gguf import DTYPES, export_gguf, interleave_rope_rows
from forecode.model.llama import KVCache, Llama, apply_rope, rope_tables
from forecode.tokenizer import CodeTokenizer

STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Three real prompts, each ending inside a function body, where a greedy model has something to say.
PROMPTS = (
    ("textwrap.py", "        if self.expand_tabs:\n"),
    ("json/decoder.py", "def py_scanstring(s, end, strict=True,\n"),
    ("string.py", "    def substitute(self, mapping=_sentinel_dict, /, **kws):\n"),
)
N_GREEDY = 16
# Max abs difference of the last position's logits, relative to their largest magnitude (about
# 12-16 here), with llama.cpp's KV cache in f32 so that the weights are the only difference.
# Measured on the three prompts (docs/EXPORT.md): f32 1.0e-6, f16 5.4e-4, q8_0 1.4e-2.
REL_TOL = {"f32": 1e-5, "f16": 2e-3, "q8_0": 4e-2}


@pytest.fixture(scope="module")
def ours() -> Checkpoint:
    return load_checkpoint(embedded_model_path())


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("gguf")
    return {dtype: export_gguf(embedded_model_path(), folder / f"forecode-tiny-{dtype}.gguf", dtype) for dtype in DTYPES}


def _prompt_ids(tokenizer: CodeTokenizer, rel: str, line: str) -> list[int]:
    text = (STDLIB / rel).read_text(encoding="utf-8")
    end = text.index(line) + len(line)
    return tokenizer.encode(text[:end])[-200:]


def _our_last_logits(model: Llama, ids: list[int]) -> np.ndarray[Any, Any]:
    with torch.no_grad():
        return model(torch.tensor([ids]))[0, -1].numpy()


def _our_greedy(model: Llama, ids: list[int], n: int) -> list[int]:
    cache = KVCache.empty(model.config, 1, len(ids) + n, torch.float32, torch.device("cpu"))
    out: list[int] = []
    with torch.no_grad():
        logits = model(torch.tensor([ids]), cache, last_only=True)
        for _ in range(n):
            out.append(int(logits[0, -1].argmax()))
            logits = model(torch.tensor([out[-1:]]), cache)
    return out


@pytest.fixture(scope="module")
def our_continuations(ours: Checkpoint) -> dict[str, list[int]]:
    return {rel: _our_greedy(ours.model, _prompt_ids(ours.tokenizer, rel, line), N_GREEDY) for rel, line in PROMPTS}


# --- The file itself, read back with the gguf package (no llama.cpp needed) -------------------


def test_rope_row_interleaving_preserves_attention_scores() -> None:
    """Half-split RoPE on the original rows gives the same q.k as llama.cpp's pairwise RoPE on the
    interleaved rows: the reason the q and k rows are reordered."""
    torch.manual_seed(0)
    n_head, head_dim, C, T = 2, 8, 16, 5
    wq, wk, x = torch.randn(n_head * head_dim, C), torch.randn(n_head * head_dim, C), torch.randn(T, C)
    cos, sin = rope_tables(head_dim, T, 10000.0)

    def half_split(w: torch.Tensor) -> torch.Tensor:  # ours: (n_head, T, head_dim)
        return apply_rope((x @ w.T).view(T, n_head, head_dim).transpose(0, 1), cos, sin)

    def pairwise(w: torch.Tensor) -> torch.Tensor:  # llama.cpp's LLAMA_ROPE_TYPE_NORM
        y = (x @ w.T).view(T, n_head, head_dim // 2, 2).transpose(0, 1)
        c, s = cos[:, : head_dim // 2], sin[:, : head_dim // 2]
        even, odd = y[..., 0], y[..., 1]
        return torch.stack([even * c - odd * s, even * s + odd * c], dim=-1).reshape(n_head, T, head_dim)

    ours = half_split(wq) @ half_split(wk).transpose(-1, -2)
    theirs = pairwise(interleave_rope_rows(wq, n_head)) @ pairwise(interleave_rope_rows(wk, n_head)).transpose(-1, -2)
    torch.testing.assert_close(theirs, ours)


def test_metadata(exported: dict[str, Path], ours: Checkpoint) -> None:
    reader = gguf.GGUFReader(exported["f32"])
    field = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    cfg = ours.model.config
    assert field["general.architecture"] == "llama"
    assert field["general.file_type"] == gguf.LlamaFileType.ALL_F32
    assert (field["llama.context_length"], field["llama.embedding_length"], field["llama.block_count"]) == (cfg.block_size, 256, 4)
    assert (field["llama.feed_forward_length"], field["llama.attention.head_count"], field["llama.attention.head_count_kv"]) == (688, 4, 4)
    assert field["llama.rope.dimension_count"] == cfg.head_dim
    assert field["llama.rope.freq_base"] == cfg.rope_theta
    assert field["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(cfg.norm_eps)
    assert (field["tokenizer.ggml.model"], field["tokenizer.ggml.pre"]) == ("gpt2", "gpt-2")
    assert field["tokenizer.ggml.bos_token_id"] == field["tokenizer.ggml.eos_token_id"] == 0
    assert field["tokenizer.ggml.add_bos_token"] is False
    fim = [field[f"tokenizer.ggml.{k}_token_id"] for k in ("fim_pre", "fim_suf", "fim_mid", "fim_sep")]
    assert fim == [1, 2, 3, 4]
    assert field["forecode.fim_order"] == "spm"
    carried = CodeTokenizer(Tokenizer.from_str(field["forecode.tokenizer"]))  # for forecode's llamacpp backend
    assert carried.fingerprint == ours.tokenizer.fingerprint

    vocab = json.loads((embedded_model_path() / "tokenizer.json").read_text())["model"]
    tokens, types = field["tokenizer.ggml.tokens"], field["tokenizer.ggml.token_type"]
    assert len(tokens) == len(types) == cfg.vocab_size
    assert tokens[:5] == ["<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>"]
    assert all(tokens[i] == t for t, i in vocab["vocab"].items())  # byte-level form: "Ġ" for a space
    assert types[:5] == [gguf.TokenType.CONTROL] * 5 and set(types[5:]) == {gguf.TokenType.NORMAL}
    assert field["tokenizer.ggml.merges"][:2] == [" ".join(m) for m in vocab["merges"][:2]]


def test_weights_read_back(exported: dict[str, Path], ours: Checkpoint) -> None:
    """Tied embeddings: no `output` tensor. f32 is exact; f16 and q8_0 within their rounding."""
    expected = dict(ours.model.named_parameters())
    for dtype, bound in (("f32", 0.0), ("f16", 1e-3), ("q8_0", 1e-2)):
        tensors = {t.name: t for t in gguf.GGUFReader(exported[dtype]).tensors}
        assert len(tensors) == 38 and "output.weight" not in tensors
        for gguf_name, ours_name in (("token_embd.weight", "model.embed_tokens.weight"),
                                     ("blk.3.ffn_down.weight", "model.layers.3.mlp.down_proj.weight"),
                                     ("output_norm.weight", "model.norm.weight")):
            t = tensors[gguf_name]
            got = gguf.quants.dequantize(t.data, t.tensor_type).reshape(expected[ours_name].shape)
            assert np.abs(got - expected[ours_name].detach().numpy()).max() <= bound, (dtype, gguf_name)
        q = tensors["blk.0.attn_q.weight"]
        assert q.tensor_type == {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
                                 "q8_0": gguf.GGMLQuantizationType.Q8_0}[dtype]
        assert tensors["blk.0.attn_norm.weight"].tensor_type == gguf.GGMLQuantizationType.F32
    # ffn_down's rows hold 688 values, not whole blocks of 32: f16 in the q8_0 file
    q8 = {t.name: t for t in gguf.GGUFReader(exported["q8_0"]).tensors}
    assert q8["blk.0.ffn_down.weight"].tensor_type == gguf.GGMLQuantizationType.F16


def test_sizes(exported: dict[str, Path]) -> None:
    mb = {dtype: path.stat().st_size / 1e6 for dtype, path in exported.items()}
    # measured: 21.6, 11.0 and 6.8 MB, of which 0.52 MB metadata (tokens and merges, and forecode.tokenizer)
    assert 21.0 < mb["f32"] < 22.0 and 10.5 < mb["f16"] < 11.5 and 6.2 < mb["q8_0"] < 7.2, mb


def test_refuses_bad_dtype_and_existing_output(exported: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown dtype 'q4_0'; expected one of f32, f16, q8_0"):
        export_gguf(embedded_model_path(), tmp_path / "x.gguf", "q4_0")
    with pytest.raises(InputError, match="already exists; pass --force"):
        export_gguf(embedded_model_path(), exported["f32"])
    with pytest.raises(InputError, match="is a folder"):
        export_gguf(embedded_model_path(), tmp_path, overwrite=True)
    assert list(tmp_path.iterdir()) == []


# --- llama.cpp runs it ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llama_cpp() -> Any:
    return pytest.importorskip("llama_cpp")


@pytest.fixture(scope="module")
def runners(llama_cpp: Any, exported: dict[str, Path]) -> Iterator[dict[str, Any]]:
    loaded = {
        dtype: load_llama(path, n_ctx=512, n_batch=512, logits_all=True, n_threads=1, verbose=False,
                               type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32)
        for dtype, path in exported.items()
    }
    yield loaded
    for llm in loaded.values():
        llm.close()


def _their_last_logits(llm: Any, ids: list[int]) -> np.ndarray[Any, Any]:
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)


def _their_run(llm: Any, ids: list[int], n: int) -> tuple[np.ndarray[Any, Any], list[int]]:
    """Logits at every position of `ids` (T, vocab), then `n` greedy tokens: one prefill."""
    llm.reset()
    llm.eval(ids)
    logits = np.array(llm.scores[: len(ids)], dtype=np.float32)
    out: list[int] = []
    for _ in range(n):
        out.append(int(np.argmax(llm.scores[llm.n_tokens - 1])))
        llm.eval([out[-1]])
    return logits, out


@pytest.fixture(scope="module")
def their_runs(runners: dict[str, Any], ours: Checkpoint) -> dict[tuple[str, str], tuple[np.ndarray[Any, Any], list[int]]]:
    return {
        (dtype, rel): _their_run(llm, _prompt_ids(ours.tokenizer, rel, line), N_GREEDY)
        for dtype, llm in runners.items()
        for rel, line in PROMPTS
    }


@pytest.mark.parametrize("dtype", DTYPES)
def test_last_logits_equal_ours(their_runs: dict[tuple[str, str], Any], ours: Checkpoint, dtype: str) -> None:
    for rel, line in PROMPTS:
        expected = _our_last_logits(ours.model, _prompt_ids(ours.tokenizer, rel, line))
        got = their_runs[dtype, rel][0][-1]
        scale = float(np.abs(expected).max())
        assert scale > 5.0
        assert float(np.abs(got - expected).max()) / scale < REL_TOL[dtype], (dtype, rel)
        assert int(got.argmax()) == int(expected.argmax())


def test_every_position_equal_ours_in_f32(their_runs: dict[tuple[str, str], Any], ours: Checkpoint) -> None:
    """All positions at once (logits_all), so the causal mask and RoPE match at every offset."""
    rel, line = PROMPTS[0]
    with torch.no_grad():
        expected = ours.model(torch.tensor([_prompt_ids(ours.tokenizer, rel, line)]))[0].numpy()
    assert np.abs(their_runs["f32", rel][0] - expected).max() < 1e-4  # measured 2.1e-5


@pytest.mark.parametrize("dtype", DTYPES)
def test_greedy_continuations_equal_ours(
    their_runs: dict[tuple[str, str], Any], our_continuations: dict[str, list[int]], ours: Checkpoint, dtype: str
) -> None:
    """Exact for f32 and f16. q8_0 moves logits by about 1% (REL_TOL), enough to flip a near-tie
    somewhere in 16 greedy tokens (after which the two continuations differ throughout): it must
    agree on the first 4, and where it first departs from ours, its token must be one our model
    scores within that tolerance of its own pick."""
    for rel, line in PROMPTS:
        got, want = their_runs[dtype, rel][1], our_continuations[rel]
        if dtype != "q8_0":
            assert got == want, (dtype, rel)
            continue
        assert got[:4] == want[:4], (dtype, rel)
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
        if first is None:
            continue
        logits = _our_last_logits(ours.model, _prompt_ids(ours.tokenizer, rel, line) + want[:first])
        gap = float(logits[want[first]] - logits[got[first]])
        assert 0 <= gap <= 2 * REL_TOL["q8_0"] * float(np.abs(logits).max()), (rel, first, gap)


def test_default_f16_kv_cache_stays_close(llama_cpp: Any, exported: dict[str, Path], ours: Checkpoint) -> None:
    """As users run it: llama.cpp keeps keys and values in f16 unless told otherwise."""
    llm = load_llama(exported["f32"], n_ctx=512, n_batch=512, logits_all=True, n_threads=1, verbose=False)
    try:
        ids = _prompt_ids(ours.tokenizer, *PROMPTS[0])
        expected = _our_last_logits(ours.model, ids)
        got = _their_last_logits(llm, ids)
        assert float(np.abs(got - expected).max()) < 1e-3 * float(np.abs(expected).max())  # measured 8.4e-5
    finally:
        llm.close()


def test_special_tokens_as_llama_cpp_sees_them(llama_cpp: Any, runners: dict[str, Any]) -> None:
    llm = runners["f32"]
    assert llm.n_vocab() == 8192 and llm.n_ctx() == 512
    assert llm.token_bos() == llm.token_eos() == 0
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    assert [llama_cpp.llama_vocab_fim_pre(vocab), llama_cpp.llama_vocab_fim_suf(vocab),
            llama_cpp.llama_vocab_fim_mid(vocab), llama_cpp.llama_vocab_fim_sep(vocab)] == [1, 2, 3, 4]
    assert llm.tokenize(b"<|fim_prefix|>", add_bos=False, special=True) == [1]
    assert llm.tokenize(b"<|fim_prefix|>", add_bos=False, special=False) != [1]  # text stays text


@pytest.mark.parametrize(
    "text",
    ["def greet(name):", "x = compute(a, b) + 1", "return '😀 héllo 日本語'", "import os, sys # 中文"],
)
def test_llama_cpp_tokenizes_one_line_like_us(runners: dict[str, Any], ours: Checkpoint, text: str) -> None:
    """On an unindented line without underscores, runs of blanks or of more than three digits,
    GPT-2's split and ours agree, so the ids do too."""
    llm = runners["f32"]
    ids = llm.tokenize(text.encode(), add_bos=False, special=False)
    assert ids == ours.tokenizer.encode(text)
    assert llm.detokenize(ids).decode() == text


def _pieces(llama_cpp: Any, llm: Any, ids: list[int]) -> bytes:
    """llama.cpp's own detokenization. `Llama.detokenize` (llama-cpp-python 0.3.36) reads each
    piece into 32 bytes and drops longer ones; 9 of our tokens are longer (runs of blanks or '-')."""
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    buf = ctypes.create_string_buffer(256)
    out = bytearray()
    for i in ids:
        n = llama_cpp.llama_token_to_piece(vocab, i, buf, len(buf), 0, False)
        assert n >= 0
        out += buf.raw[:n]
    return bytes(out)


@pytest.mark.parametrize("rel", [rel for rel, _ in PROMPTS])
def test_llama_cpp_splits_real_code_its_own_way(llama_cpp: Any, runners: dict[str, Any], ours: Checkpoint, rel: str) -> None:
    """On whole files the ids differ (GPT-2 gives the last blank of the indentation to the word
    after it, and splits at underscores), but both spell the same bytes: our ids detokenize to
    the text in llama.cpp, and so do its own."""
    llm = runners["f32"]
    text = (STDLIB / rel).read_text(encoding="utf-8")
    theirs, mine = llm.tokenize(text.encode(), add_bos=False, special=False), ours.tokenizer.encode(text)
    assert theirs != mine
    assert _pieces(llama_cpp, llm, theirs) == _pieces(llama_cpp, llm, mine) == text.encode()
    assert difflib.SequenceMatcher(None, theirs, mine, autojunk=False).ratio() > 0.6
    assert len(mine) < len(theirs) < 1.1 * len(mine)


def test_untied_gqa_model_with_a_padded_vocab(
    llama_cpp: Any, tiny_tokenizer: CodeTokenizer, tmp_path: Path
) -> None:
    """The `output` tensor, grouped-query attention (k's rows permuted with n_kv_head) and
    padding tokens for embedding rows past the tokenizer's last id."""
    config = replace(PRESETS["test"], vocab_size=tiny_tokenizer.vocab_size + 40, n_head=4, n_kv_head=2,
                     n_embd=64, tie_embeddings=False, rope_theta=5000.0, norm_eps=1e-6)
    torch.manual_seed(0)
    model = Llama(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1) if p.dim() >= 2 else p.uniform_(0.5, 1.5)
    folder = save_checkpoint(tmp_path / "ckpt", model, tiny_tokenizer, {})
    path = export_gguf(folder, tmp_path / "untied.gguf")
    names = {t.name for t in gguf.GGUFReader(path).tensors}
    assert "output.weight" in names
    llm = load_llama(path, n_ctx=256, logits_all=True, n_threads=1, verbose=False,
                          type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32)
    try:
        assert llm.n_vocab() == config.vocab_size
        ids = tiny_tokenizer.encode("def f(x):\n    return x * 2\n")
        got = _their_last_logits(llm, ids)
    finally:
        llm.close()
    expected = _our_last_logits(model, ids)
    assert float(np.abs(got - expected).max()) < 1e-4 * float(np.abs(expected).max())


def test_llama_cpp_python_server_completes_with_the_export(
    llama_cpp: Any, exported: dict[str, Path], runners: dict[str, Any], ours: Checkpoint
) -> None:
    """llama-cpp-python's OpenAI-compatible server (in process, no socket) takes a FIM prompt as
    text, reads the markers in it as special tokens, and writes our greedy middle for those ids."""
    testclient = pytest.importorskip("fastapi.testclient")
    server = pytest.importorskip("llama_cpp.server.app")
    settings = pytest.importorskip("llama_cpp.server.settings")
    app = server.create_app(
        server_settings=settings.ServerSettings(),
        model_settings=[settings.ModelSettings(model=str(exported["f32"]), n_ctx=512, n_threads=1, verbose=False)],
    )
    prompt = "<|fim_prefix|><|fim_suffix|>\n    return total\n<|fim_middle|>def add(a, b):\n"
    reply = testclient.TestClient(app).post("/v1/completions", json={"prompt": prompt, "max_tokens": 8, "temperature": 0})
    assert reply.status_code == 200, reply.text
    ids = runners["f32"].tokenize(prompt.encode(), add_bos=False, special=True)
    special = ours.tokenizer.special
    assert ids[:2] == [special.fim_prefix, special.fim_suffix] and special.fim_middle in ids
    assert reply.json()["choices"][0]["text"] == ours.tokenizer.decode(_our_greedy(ours.model, ids, 8))
