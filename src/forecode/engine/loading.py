"""Choosing an engine by name: the one place the CLI, the server and the language server turn
`backend` + `model` (+ options) into an Engine.

| backend   | model                                  | FIM template                          |
|-----------|----------------------------------------|---------------------------------------|
| builtin   | a forecode checkpoint folder (default: the embedded forecode-tiny) | forecode's |
| ngram     | an n-gram file (`forecode eval ngram-build`) | prefix only                     |
| hf        | a Hugging Face causal-LM folder        | detected from the vocabulary, or named |
| llamacpp  | a GGUF file                            | detected from the vocabulary, or named |
| openai    | a server's base URL (http://host:port/v1) | "suffix" (the server's own), or named; auto: by the model's name |
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from forecode.engine.base import Engine
from forecode.errors import InputError
from forecode.tokenizer.templates import TEMPLATES, FimTemplate, template_by_name

BACKENDS = ("builtin", "ngram", "hf", "llamacpp", "openai")
TEMPLATE_CHOICES = ("auto", "suffix", *TEMPLATES)  # auto: from the model; suffix: the server's own FIM (openai)


@dataclass(frozen=True)
class EngineOptions:
    """What selects and configures an engine besides its backend and model."""

    threads: int | None = None
    template: str = "auto"  # a name in TEMPLATE_CHOICES
    context_length: int | None = None  # None: the model's own (openai: 2048)
    tokenizer: str | None = None  # openai: a tokenizer.json for budgeting (default: forecode's)
    model_name: str | None = None  # openai: the served model's id (default: the first listed)
    api_key: str | None = None  # openai: else $FORECODE_OPENAI_API_KEY or $OPENAI_API_KEY


@dataclass(frozen=True)
class EngineSpec:
    """An engine as a user chose it: the backend, its model, the options."""

    backend: str = "builtin"
    model: str | None = None
    options: EngineOptions = EngineOptions()

    def load(self) -> Engine:
        return load_engine(self.backend, self.model, options=self.options)

    @property
    def model_name(self) -> str:
        """What /v1/models and reports call the model: its folder's or file's name, the served id."""
        if self.model is None:
            from forecode.model.embedded import EMBEDDED_NAME

            return EMBEDDED_NAME if self.backend == "builtin" else self.backend
        if self.backend == "openai":
            return self.options.model_name or self.model
        path = Path(self.model).resolve()
        return path.stem if self.backend in ("ngram", "llamacpp") else path.name


def load_engine(backend: str, model_path: str | Path | None = None, threads: int | None = None,
                options: EngineOptions | None = None) -> Engine:
    """An engine for `backend`; the builtin one defaults to the embedded forecode-tiny."""
    opts = options or EngineOptions()
    if threads is not None:
        opts = replace(opts, threads=threads)
    if opts.template not in TEMPLATE_CHOICES:
        raise InputError(f"unknown FIM template {opts.template!r}; choose one of {', '.join(TEMPLATE_CHOICES)}")
    if backend == "ngram":
        from forecode.engine.ngram import NgramEngine

        if model_path is None:
            raise InputError("the ngram backend needs a model file (made by `forecode eval ngram-build`)")
        if not Path(model_path).is_file():
            raise InputError(f"n-gram model {model_path} does not exist")
        return NgramEngine.from_file(model_path)
    if backend == "builtin":
        from forecode.engine.builtin import BuiltinEngine
        from forecode.model.embedded import embedded_model_path

        return BuiltinEngine.from_checkpoint(model_path or embedded_model_path(), threads=opts.threads)
    if backend == "hf":
        from forecode.engine.hf import HFEngine

        folder = _existing(model_path, "hf", "a Hugging Face model folder")
        return HFEngine.from_folder(folder, opts.threads, _named_template(opts.template), opts.context_length)
    if backend == "llamacpp":
        from forecode.engine.llamacpp import LlamaCppEngine

        path = _existing(model_path, "llamacpp", "a GGUF file")
        return LlamaCppEngine.from_file(path, opts.threads, _named_template(opts.template), opts.context_length)
    if backend == "openai":
        return _openai_engine(str(model_path) if model_path is not None else "", opts)
    raise InputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def _existing(model_path: str | Path | None, backend: str, what: str) -> Path:
    if model_path is None:
        raise InputError(f"the {backend} backend needs --model: {what}")
    path = Path(model_path)
    if not path.exists():
        raise InputError(f"{what} {path} does not exist")
    return path


def _named_template(name: str) -> FimTemplate | None:
    """The template named by the user, or None for "auto" (detected from the model)."""
    if name == "auto":
        return None
    if name == "suffix":
        raise InputError("FIM template 'suffix' (the server's own FIM) is for the openai backend only")
    return template_by_name(name)


def _openai_engine(base_url: str, opts: EngineOptions) -> Engine:
    from forecode.engine.openai_http import DEFAULT_CONTEXT_LENGTH, OpenAIEngine
    from forecode.model.embedded import embedded_model_path
    from forecode.tokenizer import CodeTokenizer
    from forecode.tokenizer.foreign import ForeignTokenizer
    from forecode.tokenizer.protocol import ModelTokenizer

    if not base_url:
        raise InputError("the openai backend needs --model: the server's base URL, e.g. http://127.0.0.1:8080/v1")
    tokenizer: ModelTokenizer
    if opts.tokenizer:  # the served model's tokenizer.json (or its folder), for budgets closer to the server's
        path = Path(opts.tokenizer)
        folder = path.parent if path.is_file() else path
        meta = folder / "forecode.json"
        tokenizer = CodeTokenizer.from_file(folder / "tokenizer.json") if meta.is_file() else ForeignTokenizer.from_folder(folder)
    else:
        tokenizer = CodeTokenizer.from_file(embedded_model_path() / "tokenizer.json")
    return OpenAIEngine(base_url, tokenizer, opts.template, opts.model_name, opts.api_key,
                        opts.context_length or DEFAULT_CONTEXT_LENGTH)
