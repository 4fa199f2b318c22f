"""Export a checkpoint folder as one GGUF file for llama.cpp (llama-cli, llama-server,
llama-cpp-python, Ollama), written with the `gguf` package's GGUFWriter.

What goes in: the "llama" architecture's hyper-parameters, the weights under llama.cpp's tensor
names (`output` is left out when the embeddings are tied: llama.cpp then reuses `token_embd`),
and the tokenizer as a GPT-2 style byte-level BPE (tokens in GPT-2's byte-to-unicode form,
merges, token types with the special tokens as control tokens, end of text as bos and eos, no bos
added, the FIM and file-separator ids). `forecode.fim_order` records the FIM order the model was
trained with ("psm" or "spm", as in forecode.json), and `forecode.tokenizer` holds forecode's
tokenizer.json, which forecode's llamacpp backend uses instead of llama.cpp's tokenizer.

Rotary layout. Our attention (like transformers') rotates dimension i of a head together with
dimension i + head_dim/2; llama.cpp's "llama" architecture rotates 2i together with 2i+1. The rows
of q_proj and k_proj are therefore reordered per head so that the pairs sit side by side; the
product q.k is unchanged, the logits equal ours (tests/model/test_export_gguf.py).

Dtypes: f32; f16 (norm weights stay f32, as llama.cpp expects); q8_0 (norm weights f32, and a
matrix whose rows are not a multiple of 32 values, such as forecode-tiny's ffn_down with 688,
falls back to f16, as llama-quantize does).

Tokenization. The ids are ours, but llama.cpp's text-to-ids is not: a GGUF cannot carry our
pre-tokenizer regex, and llama.cpp's "gpt-2" pre-tokenizer splits text as GPT-2 does. Ours keeps
an identifier with its underscores in one piece, makes the indentation at a line start a piece of
its own and splits digits in threes; GPT-2's splits at each underscore, gives the last blank of a
run to the word after it ("    return" becomes "   " + " return") and keeps digit runs whole. The
merges are the same, so both segmentations spell the same bytes, but llama.cpp's is one the model
never saw in training. Measured on 35 stdlib modules (0.84 MB): every file tokenizes differently,
94 % of non-blank lines (all indented ones, 40 % of the others), 3.8 % more tokens, and only
80 % of our tokens fall in stretches where the two agree. No llama.cpp pre-tokenizer comes close
to ours (we tried 25: all of them differ on 93-95 % of lines). This matters only when llama.cpp tokenizes text
itself (a text prompt to llama-cli or llama-server); feed it our ids (`Llama.eval`, a list of ids
as llama-server's `prompt`, or forecode's llamacpp backend, which reads `forecode.tokenizer`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor
from tqdm import tqdm

from forecode.errors import InputError
from forecode.model.checkpoint import load_checkpoint
from forecode.model.config import ModelConfig
from forecode.model.export_hf import check_export_paths
from forecode.model.llama import Block, Llama
from forecode.tokenizer.special import SpecialTokens

ARCH = "llama"
DTYPES = ("f32", "f16", "q8_0")
_QTYPE = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16, "q8_0": gguf.GGMLQuantizationType.Q8_0}
_FILE_TYPE = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}


def check_dtype(dtype: str) -> None:
    """Refuse a dtype we do not write, or one the installed gguf package cannot quantize to."""
    if dtype not in DTYPES:
        raise InputError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    if dtype in ("f32", "f16"):
        return
    block, _ = gguf.GGML_QUANT_SIZES[_QTYPE[dtype]]
    try:
        gguf.quants.quantize(np.zeros((1, block), dtype=np.float32), _QTYPE[dtype])
    except NotImplementedError:
        raise InputError(
            f"the installed gguf package cannot quantize to {dtype} in numpy; export f16 and run "
            f"llama.cpp's `llama-quantize model-f16.gguf model-{dtype}.gguf {dtype.upper()}`"
        ) from None


def interleave_rope_rows(w: Tensor, n_head: int) -> Tensor:
    """Rows of q_proj or k_proj (n_head * head_dim, n_embd) reordered per head from the
    half-split rotary layout (dimension i pairs with i + head_dim/2) to the interleaved one
    (2i pairs with 2i + 1)."""
    rows, C = w.shape
    head_dim = rows // n_head
    return w.reshape(n_head, 2, head_dim // 2, C).transpose(1, 2).reshape(rows, C)


def _tensors(model: Llama) -> Iterator[tuple[str, Tensor]]:
    """The weights under llama.cpp's names, in the order of the forward pass."""
    cfg = model.config
    yield "token_embd.weight", model.model.embed_tokens.weight
    for i, block in enumerate(model.model.layers):
        assert isinstance(block, Block)
        attn, mlp = block.self_attn, block.mlp
        yield f"blk.{i}.attn_norm.weight", block.input_layernorm.weight
        yield f"blk.{i}.attn_q.weight", interleave_rope_rows(attn.q_proj.weight, cfg.n_head)
        yield f"blk.{i}.attn_k.weight", interleave_rope_rows(attn.k_proj.weight, cfg.n_kv_head)
        yield f"blk.{i}.attn_v.weight", attn.v_proj.weight
        yield f"blk.{i}.attn_output.weight", attn.o_proj.weight
        yield f"blk.{i}.ffn_norm.weight", block.post_attention_layernorm.weight
        yield f"blk.{i}.ffn_gate.weight", mlp.gate_proj.weight
        yield f"blk.{i}.ffn_up.weight", mlp.up_proj.weight
        yield f"blk.{i}.ffn_down.weight", mlp.down_proj.weight
    yield "output_norm.weight", model.model.norm.weight
    if not cfg.tie_embeddings:
        yield "output.weight", model.lm_head.weight


def _encode_tensor(w: Tensor, dtype: str) -> tuple[NDArray[Any], gguf.GGMLQuantizationType]:
    """The array GGUFWriter stores, and its type: 1-d weights stay f32; a q8_0 matrix whose
    rows do not fill whole blocks of 32 falls back to f16."""
    arr = w.detach().to(torch.float32).cpu().numpy()
    qtype = _QTYPE[dtype] if arr.ndim > 1 else gguf.GGMLQuantizationType.F32
    block, _ = gguf.GGML_QUANT_SIZES[qtype]
    if arr.shape[-1] % block:
        qtype = gguf.GGMLQuantizationType.F16
    return gguf.quants.quantize(arr, qtype), qtype


def _vocab(tokenizer_json: dict[str, Any], n_vocab: int) -> tuple[list[str], list[int], list[str]]:
    """Tokens (GPT-2 byte-to-unicode form), their types and the merges, from a `tokenizers`
    byte-level BPE. Ids past the tokenizer's last, up to the model's vocab size, become unused
    padding tokens, since llama.cpp wants one token per embedding row."""
    model = tokenizer_json.get("model", {})
    if model.get("type") != "BPE" or "ByteLevel" not in json.dumps(tokenizer_json.get("pre_tokenizer")):
        raise InputError(f"tokenizer.json is a {model.get('type')} model without a byte-level pre-tokenizer; "
                         "only byte-level BPE exports to GGUF")
    by_id = {int(i): str(t) for t, i in model["vocab"].items()}
    control = set()
    for added in tokenizer_json.get("added_tokens", []):
        by_id[int(added["id"])] = str(added["content"])
        if added.get("special"):
            control.add(int(added["id"]))
    n = max(by_id) + 1
    gaps = [i for i in range(n) if i not in by_id]
    if gaps:
        raise InputError(f"tokenizer.json has no token for ids {gaps[:5]} (of {n})")
    tokens = [by_id[i] for i in range(n)] + [f"[PAD{i}]" for i in range(n, n_vocab)]
    types = [
        gguf.TokenType.CONTROL if i in control else gguf.TokenType.NORMAL if i < n else gguf.TokenType.UNUSED
        for i in range(n_vocab)
    ]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    return tokens, [int(t) for t in types], merges


def _add_hyper_parameters(w: gguf.GGUFWriter, cfg: ModelConfig) -> None:
    w.add_vocab_size(cfg.vocab_size)
    w.add_context_length(cfg.block_size)
    w.add_embedding_length(cfg.n_embd)
    w.add_block_count(cfg.n_layer)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.n_head)
    w.add_head_count_kv(cfg.n_kv_head)
    w.add_rope_dimension_count(cfg.head_dim)
    w.add_rope_freq_base(cfg.rope_theta)
    w.add_layer_norm_rms_eps(cfg.norm_eps)


def _add_tokenizer(w: gguf.GGUFWriter, tokenizer_json: dict[str, Any], n_vocab: int, special: SpecialTokens) -> None:
    tokens, types, merges = _vocab(tokenizer_json, n_vocab)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(special.eot)
    w.add_eos_token_id(special.eot)
    w.add_pad_token_id(special.eot)
    w.add_add_bos_token(False)
    w.add_add_eos_token(False)
    w.add_uint32(gguf.Keys.Tokenizer.FIM_PRE_ID, special.fim_prefix)
    w.add_uint32(gguf.Keys.Tokenizer.FIM_SUF_ID, special.fim_suffix)
    w.add_uint32(gguf.Keys.Tokenizer.FIM_MID_ID, special.fim_middle)
    w.add_uint32(gguf.Keys.Tokenizer.FIM_SEP_ID, special.file_sep)


def export_gguf(folder: Path, out: Path, dtype: str = "f32", *, overwrite: bool = False, progress: bool = False) -> Path:
    """Write `out`, one GGUF file with the weights in `dtype` (f32, f16 or q8_0)."""
    folder, out = Path(folder), Path(out)
    check_dtype(dtype)
    check_export_paths(folder, out, overwrite)
    if out.is_dir():
        raise InputError(f"{out} is a folder; give the path of the .gguf file to write")
    ckpt = load_checkpoint(folder)
    cfg = ckpt.model.config
    tokenizer_json = json.loads((folder / "tokenizer.json").read_text())

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        w = gguf.GGUFWriter(tmp, ARCH)
        w.add_name(folder.name)
        w.add_file_type(int(_FILE_TYPE[dtype]))
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
        _add_hyper_parameters(w, cfg)
        _add_tokenizer(w, tokenizer_json, cfg.vocab_size, ckpt.tokenizer.special)
        w.add_string("forecode.fim_order", str(ckpt.meta.get("fim_order", "psm")))
        # forecode's own tokenizer.json, so that forecode's llamacpp backend tokenizes as in training
        # (llama.cpp's gpt-2 pre-tokenizer splits indentation differently)
        w.add_string("forecode.tokenizer", json.dumps(tokenizer_json, ensure_ascii=False))
        named = list(_tensors(ckpt.model))
        with torch.no_grad():
            for name, weight in tqdm(named, desc=f"Converting to {dtype}", unit="tensor", disable=not progress):
                arr, qtype = _encode_tensor(weight, dtype)
                w.add_tensor(name, arr, raw_dtype=qtype)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file(progress=progress)
        w.close()
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
