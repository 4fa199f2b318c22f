"""Another model's tokenizer (a Hugging Face `tokenizer.json`), seen the way forecode's own is.

The completer needs each token's bytes (for healing, stop rules and per-token text), the ids of
the family's FIM tokens, and the tokens that end a suggestion. Byte-level BPE vocabularies
(GPT-2, StarCoder, Qwen, DeepSeek, SmolLM2) spell bytes with GPT-2's printable alphabet;
SentencePiece ones (Llama, CodeLlama, Gemma) write a space as "▁" and bytes as "<0x0A>".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from forecode.errors import InputError
from forecode.tokenizer.bpe import HFEncoding, _unicode_to_byte
from forecode.tokenizer.special import SpecialTokens
from forecode.tokenizer.templates import FimTemplate, PromptFormat, detect_template, resolve

_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")
_EOT_NAMES = ("<|endoftext|>", "<｜end▁of▁sentence｜>", "</s>", "<eos>", "<|end_of_text|>", "<|im_end|>")


class ForeignTokenizer(HFEncoding):
    """A `tokenizers.Tokenizer` with a FIM template. Text never turns into special tokens."""

    def __init__(self, tok: Tokenizer, template: FimTemplate | None = None, eot: str | None = None,
                 model_name: str = "") -> None:
        self._tok = tok
        self._tok.encode_special_tokens = True
        vocab = tok.get_vocab(with_added_tokens=True)
        self.template = template or detect_template(vocab, model_name)
        eot_id = tok.token_to_id(eot) if eot else next((tok.token_to_id(n) for n in _EOT_NAMES if n in vocab), None)
        if eot_id is None:
            raise InputError(f"cannot tell the end-of-text token of this tokenizer (tried {', '.join(_EOT_NAMES)})")
        self.format: PromptFormat = resolve(self.template, tok.token_to_id, eot_id, self._added_special())
        self.special: SpecialTokens = self.format.special

    @classmethod
    def from_folder(cls, folder: str | Path, template: FimTemplate | None = None) -> ForeignTokenizer:
        """The tokenizer of a Hugging Face model folder (its tokenizer.json), with the end-of-text
        token from tokenizer_config.json or config.json when they name one."""
        folder = Path(folder)
        path = folder / "tokenizer.json"
        if not path.is_file():
            raise InputError(f"{folder} has no tokenizer.json (a fast Hugging Face tokenizer is needed)")
        tok = Tokenizer.from_file(str(path))
        meta = _read_json(folder / "tokenizer_config.json")
        eot = _token_name(meta.get("eos_token"))
        config = _read_json(folder / "config.json")
        name = " ".join(str(x) for x in (folder.name, config.get("_name_or_path", ""), config.get("model_type", "")))
        return cls(tok, template, eot, name)

    def _added_special(self) -> list[int]:
        return [int(i) for i, t in self._tok.get_added_tokens_decoder().items() if t.special]

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    @cached_property
    def stop_ids(self) -> frozenset[int]:
        return self.format.stop_ids | frozenset(self._added_special())

    @cached_property
    def _byte_level(self) -> bool:
        """Whether the vocabulary spells bytes in GPT-2's alphabet (the decoder says so)."""
        decoder = json.loads(self._tok.to_str()).get("decoder") or {}
        parts = decoder.get("decoders", [decoder]) if decoder.get("type") == "Sequence" else [decoder]
        return any(d.get("type") == "ByteLevel" for d in parts)

    @cached_property
    def token_bytes(self) -> list[bytes]:
        table = [b""] * self.vocab_size
        alphabet = _unicode_to_byte()
        added = {int(i): t.content for i, t in self._tok.get_added_tokens_decoder().items()}
        for token, i in self._tok.get_vocab(with_added_tokens=True).items():
            if i in added:
                table[i] = added[i].encode()
            elif self._byte_level:
                table[i] = bytes(alphabet[c] for c in token) if all(c in alphabet for c in token) else token.encode()
            else:
                m = _BYTE_PIECE.fullmatch(token)
                table[i] = bytes([int(m.group(1), 16)]) if m else token.replace("▁", " ").encode()
        return table

    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids` from the token bytes, so that decoding is the inverse of `token_bytes`
        (special tokens are written out by name)."""
        table = self.token_bytes
        return b"".join(table[i] for i in ids).decode("utf-8", errors="replace")


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from None
    return data if isinstance(data, dict) else {}


def _token_name(value: Any) -> str | None:
    """A token named in tokenizer_config.json: a string or an AddedToken dict."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return str(value["content"])
    return None
