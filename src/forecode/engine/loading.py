"""Choosing an engine by name: the one place the CLI, the server and the language server turn
`backend` + `model path` into an Engine."""

from __future__ import annotations

from pathlib import Path

from forecode.engine.base import Engine
from forecode.errors import InputError

BACKENDS = ("builtin", "ngram")


def load_engine(backend: str, model_path: str | Path | None = None, threads: int | None = None) -> Engine:
    """An engine for `backend`; the builtin one defaults to the embedded forecode-tiny."""
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

        return BuiltinEngine.from_checkpoint(model_path or embedded_model_path(), threads=threads)
    raise InputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
