"""Settings: laid over each other, validated whole, bad changes refused with the value named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from forecode.api.lsp.settings import Settings, apply_changes
from forecode.errors import InputError


def test_a_change_names_only_what_it_changes(tmp_path: Path) -> None:
    s = apply_changes(Settings(), {"forecode": {"maxTokens": 12, "model": str(tmp_path)}})
    assert (s.max_tokens, s.model, s.backend, s.debounce_ms) == (12, str(tmp_path), "builtin", 75)
    s = apply_changes(s, {"debounceMs": 0})  # the bare form, without the section
    assert (s.max_tokens, s.debounce_ms) == (12, 0)
    assert apply_changes(s, None) == s and apply_changes(s, {"forecode": None}) == s


def test_languages_switch_on_and_off() -> None:
    s = apply_changes(Settings(), {"languages": {"markdown": False, "python": True}, "disabledLanguages": ["plaintext"]})
    assert not s.enabled_for("markdown") and not s.enabled_for("plaintext")
    assert s.enabled_for("python") and s.enabled_for("rust") and s.enabled_for(None)
    s = apply_changes(s, {"languages": {"markdown": True}})
    assert s.enabled_for("markdown") and not s.enabled_for("plaintext")


def test_post_processing_settings_go_into_the_line_request() -> None:
    s = apply_changes(Settings(), {"forecode": {"postprocess": "ranked", "candidates": 4, "security": "filter",
                                                "secrets": "drop", "maxTokens": 9}})
    request = s.line_request("x = ", 4, "a.py", "python")
    assert (request.postprocess, request.candidates, request.security, request.secrets) == ("ranked", 4, "filter", "drop")
    assert (request.max_tokens, request.path, request.language) == (9, "a.py", "python")
    default = Settings().line_request("x = ", 4, None, None)
    assert (default.postprocess, default.security, default.secrets) == ("pipeline", "report", "mask")


def test_engine_key_changes_with_the_engine_settings_only(tmp_path: Path) -> None:
    s = Settings()
    assert apply_changes(s, {"maxTokens": 5, "debounceMs": 9}).engine_key == s.engine_key
    assert apply_changes(s, {"threads": 2}).engine_key != s.engine_key
    assert apply_changes(s, {"model": str(tmp_path)}).engine_key != s.engine_key
    assert apply_changes(s, {"fimTemplate": "qwen"}).engine_key != s.engine_key
    assert apply_changes(s, {"contextLength": 4096}).engine_key != s.engine_key
    remote = apply_changes(s, {"backend": "openai", "model": "http://127.0.0.1:8080/v1", "modelName": "qwen2.5-coder"})
    assert (remote.engine_key.backend, remote.engine_key.model, remote.engine_key.options.model_name) == (
        "openai", "http://127.0.0.1:8080/v1", "qwen2.5-coder")


@pytest.mark.parametrize("change, message", [
    ({"backend": "gpt9"}, "setting 'backend' must be one of builtin, ngram, hf, llamacpp, openai, not 'gpt9'"),
    ({"model": "/no/such/checkpoint"}, "/no/such/checkpoint does not exist"),
    ({"maxTokens": 0}, "setting 'maxTokens' must be in 1..1024, not 0"),
    ({"fimTemplate": "gpt9"}, "setting 'fimTemplate' must be one of auto, suffix, forecode"),
    ({"contextLength": 2}, "setting 'contextLength' must be in 16..1048576, not 2"),
    ({"tokenizer": "/no/such/tokenizer.json"}, "setting 'tokenizer': /no/such/tokenizer.json does not exist"),
    ({"maxTokens": True}, "must be a whole number, not True"),
    ({"debounceMs": "fast"}, "must be a whole number, not 'fast'"),
    ({"threads": -1}, "setting 'threads' must be in 1..1024"),
    ({"languages": ["markdown"]}, "must map language ids to true or false"),
    ({"disabledLanguages": "markdown"}, "must be a list of language ids"),
    ({"maxTokenz": 4}, "unknown setting 'maxTokenz'"),
    ({"postprocess": "best"}, "setting 'postprocess' must be one of raw, pipeline, ranked, not 'best'"),
    ({"postprocess": None}, "setting 'postprocess' must be one of raw, pipeline, ranked, not None"),
    ({"candidates": 0}, "setting 'candidates' must be in 1..16, not 0"),
    ({"candidates": "2"}, "setting 'candidates' must be a whole number, not '2'"),
    ({"security": "block"}, "setting 'security' must be one of report, filter, not 'block'"),
    ({"secrets": ["mask"]}, "setting 'secrets' must be one of mask, drop, not ['mask']"),
])
def test_a_bad_change_is_refused_whole(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as exc:
        apply_changes(Settings(), {"forecode": {"debounceMs": 5, **change}})  # the good key goes too
    assert message in str(exc.value)


@pytest.mark.parametrize("raw", [[1, 2], "maxTokens=3", {"forecode": 3}])
def test_settings_that_are_no_object_are_refused(raw: Any) -> None:
    with pytest.raises(InputError, match="must be a JSON object"):
        apply_changes(Settings(), raw)


def test_index_and_context_sources_are_checked_like_the_other_settings() -> None:
    changed = apply_changes(Settings(), {"index": False, "contextSources": ["bm25"]})
    assert not changed.index and changed.context_sources == ("bm25",) and not changed.retrieval
    for bad in ({"index": "yes"}, {"contextSources": "bm25"}, {"contextSources": ["embeddings"]}):
        with pytest.raises(InputError, match="index|contextSources"):
            apply_changes(Settings(), bad)
