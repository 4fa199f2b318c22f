"""The options that choose and configure an engine, shared by `complete`, `serve` and `eval`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from forecode.engine.loading import BACKENDS, TEMPLATE_CHOICES, EngineOptions, EngineSpec

F = TypeVar("F", bound=Callable[..., Any])

MODEL_HELP = ("builtin: a checkpoint folder (default: the embedded forecode-tiny); ngram: an n-gram file; "
              "hf: a Hugging Face model folder; llamacpp: a GGUF file; openai: the server's base URL (http://host:port/v1).")


def engine_options(backend_flag: str = "--backend") -> Callable[[F], F]:
    """--backend (or `backend_flag`), --model, --threads and the options of the large-model
    backends; the command receives them as one `engine: EngineSpec`."""
    def apply(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, backend: str, model_path: str | None, threads: int | None, fim_template: str,
                    context_length: int | None, tokenizer_path: str | None, model_name: str | None, **kwargs: Any) -> Any:
            options = EngineOptions(threads=threads, template=fim_template, context_length=context_length,
                                    tokenizer=tokenizer_path, model_name=model_name)
            return fn(*args, engine=EngineSpec(backend, model_path, options), **kwargs)

        out: Any = wrapper
        for option in reversed([
            click.option(backend_flag, "backend", type=click.Choice(BACKENDS), default="builtin", show_default=True),
            click.option("--model", "model_path", default=None, help=MODEL_HELP),
            click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for the model."),
            click.option("--fim-template", type=click.Choice(TEMPLATE_CHOICES), default="auto", show_default=True,
                         help="How prompts mark prefix, suffix and middle; auto: from the model "
                              "(openai: by its name, else the server's own through 'suffix')."),
            click.option("--context-length", type=click.IntRange(min=16), default=None,
                         help="Most tokens per request (default: the model's; openai: 2048)."),
            click.option("--tokenizer", "tokenizer_path", default=None,
                         help="openai: the served model's tokenizer.json or folder, for prompt budgets (default: forecode's)."),
            click.option("--model-name", default=None, help="openai: the served model's id (default: the first it lists)."),
        ]):
            out = option(out)
        return out  # type: ignore[no-any-return]
    return apply
