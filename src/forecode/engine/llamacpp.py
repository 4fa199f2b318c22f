"""The `llamacpp` backend: a GGUF file run by llama.cpp through llama-cpp-python.

The model's vocabulary comes from the file. A GGUF that forecode exported (`forecode export
--format gguf`) carries forecode's tokenizer and FIM order, so prompts are tokenized exactly as
in training (llama.cpp's own "gpt-2" pre-tokenizer splits indentation differently); any other
GGUF is tokenized by llama.cpp and gets its family's FIM template, detected from the vocabulary
and the file's name, or named.

forecode's decode loop runs over llama.cpp's logits, so healing, stop rules, cancellation and
log-probabilities behave as in the built-in engine. The KV cache is kept between requests and
the longest common token prefix is reused (llama.cpp's cache_prompt): successive requests on
one document prefill only what changed.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
import time
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from forecode.engine.base import Generation, GenerationRequest
from forecode.engine.decoding import check_room, decode_loop
from forecode.errors import InputError
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.bpe import _check_encodable
from forecode.tokenizer.healing import TokenHealer
from forecode.tokenizer.protocol import ModelTokenizer
from forecode.tokenizer.special import SpecialTokens
from forecode.tokenizer.templates import FimTemplate, PromptFormat, detect_template, resolve

TOKENIZER_KEY = "forecode.tokenizer"  # forecode's tokenizer.json, in a GGUF that forecode exported
FIM_ORDER_KEY = "forecode.fim_order"


def _llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise InputError("the llamacpp backend needs llama-cpp-python: pip install 'forecode[llamacpp]'") from None
    return llama_cpp


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles, for which llama.cpp repacks weights into AMX buffers."""
    try:
        return "amx_tile" in Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False


_DEFAULT_PARAMS_LOCK = threading.Lock()


def load_llama(model_path: str | Path, **kwargs: Any) -> Any:
    """`llama_cpp.Llama(model_path, **kwargs)`; on a CPU with AMX, without llama.cpp's extra
    buffer types (weight repacking). Its AMX matrix product crashes the process on a q8_0 model
    on such CPUs (ggml-org/llama.cpp#20824; seen here with llama-cpp-python 0.3.36 built from
    source on a Xeon with AMX-INT8), and `Llama` has no argument for the model parameter that
    turns it off, so its default parameters are replaced while it loads."""
    lib = _llama_cpp()
    if not cpu_has_amx():
        return lib.Llama(model_path=str(model_path), **kwargs)
    low = lib.llama_cpp
    with _DEFAULT_PARAMS_LOCK, _no_extra_buffers(low):
        return lib.Llama(model_path=str(model_path), **kwargs)


@contextlib.contextmanager
def _no_extra_buffers(low: Any) -> Any:
    default = low.llama_model_default_params

    def params() -> Any:
        p = default()
        p.use_extra_bufts = False
        return p

    low.llama_model_default_params = params
    try:
        yield
    finally:
        low.llama_model_default_params = default


class LlamaCppTokenizer:
    """The vocabulary of a loaded GGUF, tokenized by llama.cpp."""

    def __init__(self, llm: Any, template: FimTemplate | None, model_name: str) -> None:
        lib = _llama_cpp()
        self._llm = llm
        self._vocab = llm._model.vocab
        n = int(llm.n_vocab())
        self._texts = [llm._model.token_get_text(i) for i in range(n)]
        control = lib.LLAMA_TOKEN_ATTR_CONTROL
        self._control = frozenset(i for i in range(n) if llm._model.token_get_attr(i) & control)
        self.template = template or detect_template(self._texts, model_name)
        ids = {t: i for i, t in enumerate(self._texts)}
        eot = int(llm.token_eos())
        extra = {int(llm._model.token_eot())} - {-1}
        self.format: PromptFormat = resolve(self.template, ids.get, eot, self._control | extra)
        self.special: SpecialTokens = self.format.special

    @property
    def vocab_size(self) -> int:
        return len(self._texts)

    @cached_property
    def stop_ids(self) -> frozenset[int]:
        return self.format.stop_ids | self._control

    @cached_property
    def token_bytes(self) -> list[bytes]:
        lib = _llama_cpp()
        size = 256
        buf = ctypes.create_string_buffer(size)
        table = []
        for i, text in enumerate(self._texts):
            if i in self._control:
                table.append(text.encode())
                continue
            n = lib.llama_token_to_piece(self._vocab, i, buf, size, 0, False)
            table.append(bytes(buf.raw[: max(0, n)]))
        return table

    def encode(self, text: str) -> list[int]:
        _check_encodable(text)
        if not text:
            return []
        return [int(i) for i in self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)]

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        table = self.token_bytes
        return b"".join(table[i] for i in ids).decode("utf-8", errors="replace")


class LlamaCppEngine:
    def __init__(self, llm: Any, tokenizer: ModelTokenizer, prompt_format: PromptFormat, context_length: int) -> None:
        self.llm = llm
        self.tokenizer = tokenizer
        self._format = prompt_format
        self._context_length = context_length
        self.healer = TokenHealer(tokenizer)
        self._lock = threading.Lock()  # one llama.cpp context: one generation at a time
        self._lib = _llama_cpp()

    @classmethod
    def from_file(cls, path: str | Path, threads: int | None = None, template: FimTemplate | None = None,
                  context_length: int | None = None) -> LlamaCppEngine:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"GGUF file {path} does not exist")
        with path.open("rb") as f:
            if f.read(4) != b"GGUF":
                raise InputError(f"{path} is not a GGUF file (it does not start with 'GGUF')")
        kwargs: dict[str, Any] = {"n_ctx": context_length or 0, "verbose": False, "logits_all": False}
        if threads:
            kwargs.update(n_threads=threads, n_threads_batch=threads)
        try:
            llm = load_llama(path, **kwargs)
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"llama.cpp cannot load {path}: {exc}") from None
        meta = dict(llm.metadata)
        tokenizer: ModelTokenizer
        if TOKENIZER_KEY in meta and template is None:
            from tokenizers import Tokenizer

            ours = CodeTokenizer(Tokenizer.from_str(meta[TOKENIZER_KEY]))
            order = meta.get(FIM_ORDER_KEY, "psm")
            if order not in ("psm", "spm"):
                raise InputError(f"{path} asks for FIM order {order!r}; expected 'psm' or 'spm'")
            tokenizer, fmt = ours, PromptFormat.forecode(ours.special, order)
        else:
            foreign = LlamaCppTokenizer(llm, template, f"{path.name} {meta.get('general.name', '')}")
            tokenizer, fmt = foreign, foreign.format
        return cls(llm, tokenizer, fmt, int(llm.n_ctx()))

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def prompt_format(self) -> PromptFormat:
        return self._format

    def _logits(self) -> npt.NDArray[np.float32]:
        """The last evaluated position's logits (a copy: llama.cpp reuses the buffer)."""
        ptr = self._lib.llama_get_logits_ith(self.llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.llm.n_vocab(),)).astype(np.float32)

    def _prefill(self, ids: list[int]) -> int:
        """Evaluate `ids`, reusing the cached common prefix; the number of tokens reused."""
        cached = self.llm.input_ids[: self.llm.n_tokens]
        n = min(len(cached), len(ids) - 1)  # the last prompt token is always evaluated, for its logits
        common = 0
        if n > 0:
            diff = np.nonzero(np.asarray(cached[:n]) != np.asarray(ids[:n]))[0]
            common = int(diff[0]) if len(diff) else n
        self.llm.n_tokens = common  # eval() drops the cache past n_tokens
        self.llm.eval(ids[common:])
        return common

    def generate(self, request: GenerationRequest) -> Generation:
        max_new = check_room(request, self._context_length)
        with self._lock:
            t0 = time.perf_counter()
            reused = self._prefill(request.prompt_ids)
            first = self._logits()
            t1 = time.perf_counter()

            def step(token: int) -> npt.NDArray[np.float32]:
                self.llm.eval([token])
                return self._logits()

            state = decode_loop(self.tokenizer, self.healer, request, max_new, first, step)
            t2 = time.perf_counter()
        return Generation(state.ids, state.text, state.logprobs, state.finish, len(request.prompt_ids),
                          (t1 - t0) * 1000, (t2 - t1) * 1000, cached_tokens=reused)

    def score(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        """The prompt once (cached), then each continuation token by token."""
        if not prompt_ids:
            raise InputError("empty prompt")
        scores = []
        with self._lock:
            for c in continuations:
                if len(prompt_ids) + len(c) > self._context_length:
                    raise InputError(f"prompt of {len(prompt_ids)} tokens and a continuation of {len(c)} tokens "
                                     f"exceed the model's {self._context_length} positions")
                self._prefill(prompt_ids)
                total = 0.0
                for k, token in enumerate(c):
                    row = self._logits()[: self.tokenizer.vocab_size]
                    shifted = row - row.max()
                    total += float(shifted[token] - np.log(np.exp(shifted).sum()))
                    if k + 1 < len(c):
                        self.llm.eval([token])
                scores.append(total)
        return scores
