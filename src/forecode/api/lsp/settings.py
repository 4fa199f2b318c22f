"""The language server's settings: the command line's, then `initializationOptions`, then each
`workspace/didChangeConfiguration` (section `forecode`), each laid over the one before.

A change names only what it changes, in the editor's camelCase:

    {"forecode": {"backend": "builtin", "model": "/path/to/checkpoint", "threads": 2,
                  "maxTokens": 48, "debounceMs": 75, "completionDebounceMs": 0,
                  "languages": {"markdown": false}, "disabledLanguages": ["plaintext"],
                  "maxCandidates": 100}}

The object may also come without the `forecode` wrapper. A change with any bad key or value is
refused whole (InputError naming it), so the settings before it stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from forecode.engine.loading import BACKENDS
from forecode.errors import InputError

SECTION = "forecode"


@dataclass(frozen=True)
class Settings:
    backend: str = "builtin"
    model: str | None = None  # checkpoint folder or n-gram file; None: the backend's default
    threads: int | None = None  # CPU threads for the model; None: torch's default
    max_tokens: int = 64
    debounce_ms: int = 75  # inline completions: wait this long for the user to stop typing
    completion_debounce_ms: int = 0  # explicit completion requests
    languages: Mapping[str, bool] = field(default_factory=dict)  # languageId -> on/off; unlisted: on
    max_candidates: int = 100  # identifier candidates the model ranks; the rest keep jedi's order

    def enabled_for(self, language: str | None) -> bool:
        return language is None or self.languages.get(language, True)

    @property
    def engine_key(self) -> tuple[str, str | None, int | None]:
        """What the engine is loaded from: a change here means a new engine."""
        return self.backend, self.model, self.threads


def _int(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"setting {key!r} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise InputError(f"setting {key!r} must be in {low}..{high}, not {value}")
    return value


def _backend(value: Any) -> str:
    if value not in BACKENDS:
        raise InputError(f"setting 'backend' must be one of {', '.join(BACKENDS)}, not {value!r}")
    return str(value)


def _model(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"setting 'model' must be a path, not {value!r}")
    path = Path(value).expanduser()
    if not path.exists():
        raise InputError(f"setting 'model': {path} does not exist")
    return str(path)


def _threads(value: Any) -> int | None:
    return None if value is None else _int("threads", value, 1, 1024)


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
            changes["backend"] = _backend(value)
        elif key == "model":
            changes["model"] = _model(value)
        elif key == "threads":
            changes["threads"] = _threads(value)
        elif key == "maxTokens":
            changes["max_tokens"] = _int(key, value, 1, 1024)
        elif key == "debounceMs":
            changes["debounce_ms"] = _int(key, value, 0, 10_000)
        elif key == "completionDebounceMs":
            changes["completion_debounce_ms"] = _int(key, value, 0, 10_000)
        elif key == "maxCandidates":
            changes["max_candidates"] = _int(key, value, 0, 5_000)
        elif key == "languages":
            languages.update(_languages(value))
        elif key == "disabledLanguages":
            languages.update({language: False for language in _disabled(value)})
        else:
            known = "backend, model, threads, maxTokens, debounceMs, completionDebounceMs, maxCandidates, languages, disabledLanguages"
            raise InputError(f"unknown setting {key!r} (known: {known})")
    return replace(current, **changes, languages=languages)
