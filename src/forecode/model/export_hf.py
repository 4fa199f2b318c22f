"""Export a checkpoint folder as a Hugging Face `transformers` folder.

A forecode checkpoint already has a LlamaForCausalLM `config.json` and `model.safetensors`; what
`transformers` (and vLLM, TGI, ONNX exporters) still need is the tokenizer side:
`tokenizer_config.json` and `special_tokens_map.json`, which make `AutoTokenizer` build a
`PreTrainedTokenizerFast` around our `tokenizer.json` (our pre-tokenizer regex included, so its
ids equal `CodeTokenizer.encode`), and a `generation_config.json`. `forecode.json` travels too,
so the exported folder is still a forecode checkpoint.

One difference is deliberate: `CodeTokenizer` never turns text into special tokens, while a
Hugging Face tokenizer by default reads "<|fim_prefix|>" in a prompt as the special token, which
is what a server that receives FIM prompts as text needs. Load with
`AutoTokenizer.from_pretrained(out, split_special_tokens=True)` for forecode's behaviour.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from forecode.errors import InputError
from forecode.model.checkpoint import load_checkpoint
from forecode.tokenizer.special import END_OF_TEXT, FILE_SEP, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX

COPIED = ("config.json", "model.safetensors", "tokenizer.json", "forecode.json")
WRITTEN = ("tokenizer_config.json", "special_tokens_map.json", "generation_config.json")
FIM_TOKENS = (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FILE_SEP)


def check_export_paths(folder: Path, out: Path, overwrite: bool) -> None:
    """The checks both exports make before reading any weights."""
    if not folder.is_dir():
        raise InputError(f"model folder {folder} does not exist")
    if out.exists() and not overwrite:
        raise InputError(f"{out} already exists; pass --force to replace it")
    if out.resolve() == folder.resolve():
        raise InputError(f"the output {out} is the model folder itself")


def _special_tokens() -> dict[str, Any]:
    # The byte-level BPE never meets an unknown byte, so unk is GPT-2's choice: end of text.
    # Padding with end of text is what every causal-LM recipe does for a model without a pad token.
    return {
        "bos_token": END_OF_TEXT,
        "eos_token": END_OF_TEXT,
        "unk_token": END_OF_TEXT,
        "pad_token": END_OF_TEXT,
        "additional_special_tokens": list(FIM_TOKENS),
    }


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def export_hf(folder: Path, out: Path, *, overwrite: bool = False) -> Path:
    """Write `out`, a folder `AutoModelForCausalLM` and `AutoTokenizer` load offline."""
    folder, out = Path(folder), Path(out)
    check_export_paths(folder, out, overwrite)
    ckpt = load_checkpoint(folder)  # refuses an incomplete or inconsistent folder before anything is written
    special = ckpt.tokenizer.special
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name in COPIED:
            shutil.copyfile(folder / name, tmp / name)
        _write_json(tmp / "special_tokens_map.json", _special_tokens())
        _write_json(tmp / "tokenizer_config.json", {
            "tokenizer_class": "PreTrainedTokenizerFast",
            **_special_tokens(),
            "add_bos_token": False,
            "add_eos_token": False,
            "clean_up_tokenization_spaces": False,  # " ." must stay " ." in code
            "split_special_tokens": False,
            "model_max_length": ckpt.model.config.block_size,
        })
        _write_json(tmp / "generation_config.json", {
            "bos_token_id": special.eot,
            # Our engine ends a suggestion at any special token; a FIM marker or a file separator
            # in the output means the model has moved on to another document.
            "eos_token_id": [special.eot, special.fim_prefix, special.fim_suffix, special.fim_middle, special.file_sep],
            "pad_token_id": special.eot,
        })
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
