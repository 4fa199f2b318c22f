"""The language server's settings: the command line's, then `initializationOptions`, then each
`workspace/didChangeConfiguration` (section `forecode`), each laid over the one before.

A change names only what it changes, in the editor's camelCase:

    {"forecode": {"backend": "builtin", "model": "/path/to/checkpoint", "threads": 2,
                  "fimTemplate": "auto", "contextLength": null, "modelName": null, "tokenizer": null,
                  "maxTokens": 48, "debounceMs": 75, "completionDebounceMs": 0,
                  "languages": {"markdown": false}, "disabledLanguages": ["plaintext"],
                  "maxCandidates": 100, "postprocess": "pipeline", "candidates": 2,
                  "security": "report", "secrets": "mask",
                  "index": true, "contextSources": ["definition", "bm25", "recent"]}}

The object may also come without the `forecode` wrapper. A change with any bad key or value is
refused whole (InputError naming it), so the settings before it stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from forecode.api.options import CONTEXT_SOURCES, POSTPROCESS, SECRETS, SECURITY, ContextSource, PostProcess
from forecode.completer import DEFAULT_CANDIDATES, MAX_CANDIDATES, CompletionRequest
from forecode.engine.loading import BACKENDS, TEMPLATE_CHOICES, EngineOptions, EngineSpec
from forecode.errors import InputError
from forecode.postprocess.candidate import SecretsPolicy, SecurityPolicy

SECTION = "forecode"
C = TypeVar("C", bound=str)


@dataclass(frozen=True)
class Settings:
    backend: str = "builtin"
    model: str | None = None  # checkpoint folder, n-gram, HF folder, GGUF file or server URL; None: the default
    threads: int | None = None  # CPU threads for the model; None: torch's default
    fim_template: str = "auto"  # see forecode.engine.loading.TEMPLATE_CHOICES
    context_length: int | None = None
    model_name: str | None = None  # openai: the served model's id
    tokenizer: str | None = None  # openai: the served model's tokenizer.json, for budgets
    max_tokens: int = 64
    debounce_ms: int = 75  # inline completions: wait this long for the user to stop typing
    completion_debounce_ms: int = 0  # explicit completion requests
    languages: Mapping[str, bool] = field(default_factory=dict)  # languageId -> on/off; unlisted: on
    max_candidates: int = 100  # identifier candidates the model ranks; the rest keep jedi's order
    postprocess: PostProcess = "pipeline"  # the line suggestion: raw, filtered, or k candidates ranked
    candidates: int = DEFAULT_CANDIDATES  # k, for postprocess "ranked"
    security: SecurityPolicy = "report"  # findings shown with the suggestion, or such suggestions dropped
    secrets: SecretsPolicy = "mask"  # a credential-like suggestion is masked, or dropped
    index: bool = True  # index the workspace folders, for repository context in the prompt
    context_sources: tuple[ContextSource, ...] = CONTEXT_SOURCES  # where that context comes from; (): none

    @property
    def retrieval(self) -> bool:
        return self.index and bool(self.context_sources)

    def enabled_for(self, language: str | None) -> bool:
        return language is None or self.languages.get(language, True)

    def line_request(self, text: str, cursor: int, path: str | None, language: str | None,
                     workspace_root: str | None = None) -> CompletionRequest:
        """The completer's request for the line suggestion at `cursor`, as these settings ask for
        it; with a `workspace_root` (its index open), with repository context from it."""
        return CompletionRequest(text=text, cursor=cursor, path=path, language=language, max_tokens=self.max_tokens,
                                 postprocess=self.postprocess, candidates=self.candidates,
                                 security=self.security, secrets=self.secrets,
                                 workspace_root=workspace_root if self.retrieval else None,
                                 context_sources=self.context_sources)

    @property
    def engine_key(self) -> EngineSpec:
        """What the engine is loaded from: a change here means a new engine."""
        return EngineSpec(self.backend, self.model, EngineOptions(self.threads, self.fim_template, self.context_length,
                                                                  self.tokenizer, self.model_name))


def _int(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"setting {key!r} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise InputError(f"setting {key!r} must be in {low}..{high}, not {value}")
    return value


def _choice(key: str, value: Any, choices: tuple[C, ...]) -> C:
    for choice in choices:
        if value == choice:
            return choice
    raise InputError(f"setting {key!r} must be one of {', '.join(choices)}, not {value!r}")


def _model(value: Any, key: str = "model") -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"setting {key!r} must be a path, not {value!r}")
    if key == "model" and value.startswith(("http://", "https://")):  # the openai backend's server
        return value
    path = Path(value).expanduser()
    if not path.exists():
        raise InputError(f"setting {key!r}: {path} does not exist")
    return str(path)


def _threads(value: Any) -> int | None:
    return None if value is None else _int("threads", value, 1, 1024)


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"setting {key!r} must be true or false, not {value!r}")
    return value


def _sources(value: Any) -> tuple[ContextSource, ...]:
    if not isinstance(value, list):
        raise InputError(f"setting 'contextSources' must be a list of {', '.join(CONTEXT_SOURCES)} (or []), not {value!r}")
    return tuple(_choice("contextSources", v, CONTEXT_SOURCES) for v in value)


def _languages(value: Any) -> dict[str, bool]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, bool) for k, v in value.items()):
        raise InputError(f"setting 'languages' must map language ids to true or false, not {value!r}")
    return dict(value)


def _disabled(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"setting 'disabledLanguages' must be a list of language ids, not {value!r}")
    return list(value)


def apply_changes(current: Settings, raw: Any) -> Settings:
    """`current` with the changes in `raw` (a JSON object, `forecode` section or bare) applied."""
    if raw is None:
        return current
    if not isinstance(raw, Mapping):
        raise InputError(f"forecode settings must be a JSON object, not {raw!r}")
    if SECTION in raw:
        raw = raw[SECTION]
        if raw is None:
            return current
        if not isinstance(raw, Mapping):
            raise InputError(f"the {SECTION!r} settings must be a JSON object, not {raw!r}")
    changes: dict[str, Any] = {}
    languages = dict(current.languages)
    for key, value in raw.items():
        if key == "backend":
            changes["backend"] = _choice(key, value, BACKENDS)
        elif key == "model":
            changes["model"] = _model(value)
        elif key == "threads":
            changes["threads"] = _threads(value)
        elif key == "fimTemplate":
            changes["fim_template"] = _choice(key, value, TEMPLATE_CHOICES)
        elif key == "contextLength":
            changes["context_length"] = None if value is None else _int(key, value, 16, 1_048_576)
        elif key == "modelName":
            if value is not None and not isinstance(value, str):
                raise InputError(f"setting 'modelName' must be a string, not {value!r}")
            changes["model_name"] = value or None
        elif key == "tokenizer":
            changes["tokenizer"] = _model(value, key)
        elif key == "maxTokens":
            changes["max_tokens"] = _int(key, value, 1, 1024)
        elif key == "debounceMs":
            changes["debounce_ms"] = _int(key, value, 0, 10_000)
        elif key == "completionDebounceMs":
            changes["completion_debounce_ms"] = _int(key, value, 0, 10_000)
        elif key == "maxCandidates":
            changes["max_candidates"] = _int(key, value, 0, 5_000)
        elif key == "postprocess":
            changes["postprocess"] = _choice(key, value, POSTPROCESS)
        elif key == "candidates":
            changes["candidates"] = _int(key, value, 1, MAX_CANDIDATES)
        elif key == "security":
            changes["security"] = _choice(key, value, SECURITY)
        elif key == "secrets":
            changes["secrets"] = _choice(key, value, SECRETS)
        elif key == "index":
            changes["index"] = _bool(key, value)
        elif key == "contextSources":
            changes["context_sources"] = _sources(value)
        elif key == "languages":
            languages.update(_languages(value))
        elif key == "disabledLanguages":
            languages.update({language: False for language in _disabled(value)})
        else:
            known = ("backend, model, threads, fimTemplate, contextLength, modelName, tokenizer, maxTokens, debounceMs, completionDebounceMs, maxCandidates, "
                     "postprocess, candidates, security, secrets, index, contextSources, languages, disabledLanguages")
            raise InputError(f"unknown setting {key!r} (known: {known})")
    return replace(current, **changes, languages=languages)
