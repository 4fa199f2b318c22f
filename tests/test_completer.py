"""The completer: request checks, the memorised model's completions, sampling, the debug window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from engine.tiny_models import CURSORS, document_at, memorised_model, random_model

from forecode.completer import Completer, CompletionRequest
from forecode.engine.builtin import BuiltinEngine
from forecode.errors import InputError
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.special import SPECIAL_TOKENS


@pytest.fixture
def memorised(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer) -> Completer:
    return Completer(BuiltinEngine(memorised_model(tiny_tokenizer_path), tiny_tokenizer))


@pytest.fixture
def untrained(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer) -> Completer:
    return Completer(BuiltinEngine(random_model(tiny_tokenizer_path), tiny_tokenizer))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cursor": 4}, "cursor 4 is outside the document"),
        ({"cursor": -1}, "cursor -1 is outside the document"),
        ({"max_tokens": 0}, "max_tokens must be at least 1"),
        ({"temperature": -0.5}, "temperature must not be negative"),
        ({"top_p": 0.0}, "top_p must be in"),
        ({"top_p": 1.5}, "top_p must be in"),
        ({"n": 0}, "n must be at least 1"),
    ],
)
def test_bad_requests_raise_input_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        CompletionRequest(**{"text": "abc", "cursor": 3, **options})


@pytest.mark.parametrize("cursor", CURSORS[::2])
def test_memorised_model_completes_the_rest_of_the_line(memorised: Completer, cursor: int) -> None:
    doc, rest = document_at(cursor)
    result = memorised.complete(CompletionRequest(doc, cursor))
    [suggestion] = result.suggestions
    assert suggestion.text == rest
    assert "".join(t.text for t in suggestion.tokens) == rest  # per-token scores cover the suggestion
    assert suggestion.logprob == pytest.approx(sum(t.logprob for t in suggestion.tokens))
    assert suggestion.logprob <= 0
    assert suggestion.finish_reason == "end_of_text"


def test_debug_window(memorised: Completer) -> None:
    cursor = CURSORS[1]
    doc, rest = document_at(cursor)
    debug = memorised.complete(CompletionRequest(doc, cursor)).debug
    assert debug["scope"] == "line"
    assert debug["prompt"].startswith("<|fim_prefix|>def greet(name):")
    assert debug["prompt"].endswith("<|fim_middle|>")
    assert "<|fim_suffix|>\n    return message.upper()\n" in debug["prompt"]
    assert debug["prompt_tokens"] > 0
    assert not debug["prefix_truncated"] and not debug["suffix_truncated"]
    # what was backed off, plus the prompt's text before the cursor, is the document before the cursor
    prompt_prefix = debug["prompt"].removeprefix("<|fim_prefix|>").split("<|fim_suffix|>")[0]
    assert prompt_prefix + debug["healed"] == doc[:cursor]
    assert debug["raw"] == [rest]
    timings = debug["timings"]
    assert {"prompt_ms", "total_ms", "generations"} <= timings.keys()
    assert timings["total_ms"] >= timings["prompt_ms"] >= 0
    [gen] = timings["generations"]
    assert gen["new_tokens"] > 0 and gen["prefill_ms"] >= 0 and gen["decode_ms"] >= 0


def test_line_scope_cuts_a_suggestion_at_the_end_of_the_line(untrained: Completer) -> None:
    doc = "import os\nx = os.path.join(a, b)\n"
    result = untrained.complete(CompletionRequest(doc, doc.index("join"), max_tokens=32, temperature=1.0, seed=0, n=4))
    for s in result.suggestions:
        assert "\n" not in s.text
        assert s.text == s.text.rstrip()


def test_n_samples_are_sorted_by_mean_logprob(untrained: Completer) -> None:
    doc = "def f(x):\n    return x\n\n\ny = \n"
    request = CompletionRequest(doc, doc.index("y = ") + 4, max_tokens=8, temperature=1.0, seed=11, n=5)
    result = untrained.complete(request)
    assert len(result.suggestions) == 5
    means = [s.logprob / max(1, len(s.tokens)) for s in result.suggestions]
    assert means == sorted(means, reverse=True)
    assert len({s.text for s in result.suggestions}) > 1  # sampled, not five copies of one
    assert len(result.debug["raw"]) == len(result.debug["timings"]["generations"]) == 5
    again = untrained.complete(request)
    assert [s.text for s in again.suggestions] == [s.text for s in result.suggestions]


@pytest.mark.parametrize("cursor_mark", ["x = os.pa|th\n", "def f():\n    |\n", "import os\n|"])
def test_suggestions_never_contain_special_tokens(untrained: Completer, cursor_mark: str) -> None:
    prefix, suffix = cursor_mark.split("|")
    result = untrained.complete(CompletionRequest(prefix + suffix, len(prefix), max_tokens=24, temperature=1.5, seed=3, n=6))
    for s in result.suggestions:
        for name in SPECIAL_TOKENS:
            assert name not in s.text
            assert all(name not in t.text for t in s.tokens)


def test_memorised_line_survives_a_long_prefix(memorised: Completer) -> None:
    """The prompt keeps the lines nearest the cursor when the file is longer than the window."""
    cursor = CURSORS[0]
    doc, rest = document_at(cursor)
    filler = "".join(f"import module_{i}\n" for i in range(200))
    long_doc = filler + doc
    result = memorised.complete(CompletionRequest(long_doc, len(filler) + cursor))
    assert result.debug["prefix_truncated"]
    assert result.debug["prompt"].count("module_") < 200
    prompt_prefix = result.debug["prompt"].removeprefix("<|fim_prefix|>").split("<|fim_suffix|>")[0]
    assert (prompt_prefix + result.debug["healed"]).endswith("import module_199\n" + doc[:cursor])
    assert prompt_prefix.startswith("import module_")  # whole lines


@pytest.mark.parametrize("order", ["psm", "spm"])
def test_prompt_follows_the_engines_fim_order(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, order: str) -> None:
    engine = BuiltinEngine(random_model(tiny_tokenizer_path), tiny_tokenizer, fim_order=order)  # type: ignore[arg-type]
    result = Completer(engine).complete(CompletionRequest(text="def f(x):\n    return x\n", cursor=14, max_tokens=2))
    prompt = result.debug["prompt"]
    assert result.debug["fim_order"] == order
    assert result.debug["healed"] == "    "  # the indentation is backed off and generated again
    if order == "spm":  # the prefix runs straight into the middle
        assert prompt == "<|fim_prefix|><|fim_suffix|>return x\n<|fim_middle|>def f(x):\n"
    else:
        assert prompt == "<|fim_prefix|>def f(x):\n<|fim_suffix|>return x\n<|fim_middle|>"


def test_stop_sequences_end_the_suggestion_before_them(memorised: Completer) -> None:
    cursor = CURSORS[0]
    doc, rest = document_at(cursor)
    stop = rest[3:5]
    [s] = memorised.complete(CompletionRequest(doc, cursor, stop=(stop,))).suggestions
    assert s.text == rest[: rest.index(stop)]


def test_scope_none_keeps_what_the_scope_cut_would_drop(memorised: Completer) -> None:
    cursor = CURSORS[0]
    doc, rest = document_at(cursor)
    result = memorised.complete(CompletionRequest(doc, cursor, scope="none"))
    assert result.debug["scope"] == "none"
    assert result.suggestions[0].text.startswith(rest)


def test_empty_stop_sequences_are_refused() -> None:
    with pytest.raises(InputError, match="stop sequences must not be empty"):
        CompletionRequest("abc", 3, stop=("",))


def test_bad_postprocess_options_are_refused() -> None:
    with pytest.raises(InputError, match="postprocess must be one of raw, pipeline, ranked"):
        CompletionRequest("abc", 3, postprocess="best")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="candidates must be in 1..16, not 0"):
        CompletionRequest("abc", 3, candidates=0)


def test_the_debug_window_lists_what_each_filter_changed(memorised: Completer) -> None:
    cursor = CURSORS[0]
    doc, rest = document_at(cursor)
    debug = memorised.complete(CompletionRequest(doc, cursor)).debug
    assert debug["postprocess"] == "pipeline"
    [record] = debug["filters"]
    assert record["index"] == 0 and record["dropped"] is None and record["findings"] == []
    assert all(ch["after"] != ch["before"] for ch in record["changes"])
    assert debug["timings"]["postprocess_ms"] >= 0


def test_raw_keeps_what_the_engine_wrote(untrained: Completer) -> None:
    doc = "import os\nx = os.path.join(a, b)\n"
    request = dict(text=doc, cursor=doc.index("join"), max_tokens=24, temperature=1.0, seed=5)
    raw = untrained.complete(CompletionRequest(**request, postprocess="raw"))  # type: ignore[arg-type]
    assert raw.debug["postprocess"] == "raw" and raw.debug["filters"] == [] and raw.debug["scope"] == "none"
    assert raw.suggestions[0].text == raw.debug["raw"][0]
    piped = untrained.complete(CompletionRequest(**request))  # type: ignore[arg-type]
    assert "\n" not in piped.suggestions[0].text  # the same generation start, cut to the line
    assert raw.debug["timings"]["generations"][0]["new_tokens"] >= piped.debug["timings"]["generations"][0]["new_tokens"]


def test_ranked_generates_k_candidates_greedy_first_and_returns_the_best(memorised: Completer) -> None:
    cursor = CURSORS[0]
    doc, rest = document_at(cursor)
    greedy = memorised.complete(CompletionRequest(doc, cursor)).suggestions[0]
    result = memorised.complete(CompletionRequest(doc, cursor, postprocess="ranked", candidates=3, n=3, seed=1))
    assert len(result.debug["raw"]) == 3
    assert result.debug["raw"][0] == greedy.text  # candidate 0 is the greedy one
    ranking = result.debug["ranking"]
    assert [r["score"] for r in ranking] == sorted((r["score"] for r in ranking), reverse=True)
    assert result.suggestions[0].text == ranking[0]["text"] == rest  # the memorised line wins
    assert result.suggestions[0].score == pytest.approx(ranking[0]["score"], abs=1e-4)
    assert len({s.text for s in result.suggestions}) == len(result.suggestions)  # distinct


def test_security_findings_are_reported_or_drop_the_suggestion() -> None:
    from dataclasses import replace

    from forecode.postprocess.candidate import Context
    from forecode.postprocess.pipeline import run_pipeline

    ctx = Context("import subprocess\ndef run(cmd):\n    ", "\n")
    reported = run_pipeline("subprocess.run(cmd, shell=True)", ctx)
    assert [f.rule for f in reported.findings] == ["shell-injection"] and reported.text
    filtered = run_pipeline("subprocess.run(cmd, shell=True)", replace(ctx, security="filter"))
    assert filtered.text == "" and filtered.dropped is not None
