"""The completer's post-processing options as both servers take them: the allowed values, typed,
so an HTTP body and an LSP setting are checked against the same lists (forecode.completer says
what each one does)."""

from __future__ import annotations

from typing import Literal, get_args

from forecode.postprocess.candidate import SecretsPolicy, SecurityPolicy

PostProcess = Literal["raw", "pipeline", "ranked"]  # CompletionRequest.postprocess
POSTPROCESS: tuple[PostProcess, ...] = get_args(PostProcess)
SECRETS: tuple[SecretsPolicy, ...] = get_args(SecretsPolicy)
SECURITY: tuple[SecurityPolicy, ...] = get_args(SecurityPolicy)
ContextSource = Literal["definition", "bm25", "recent"]  # CompletionRequest.context_sources
CONTEXT_SOURCES: tuple[ContextSource, ...] = get_args(ContextSource)
