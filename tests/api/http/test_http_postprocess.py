"""/v1/code/completions' post-processing fields: `postprocess` (raw, pipeline, ranked),
`candidates`, `secrets` and `security`, each honoured, each refused with the allowed values when
wrong; the security lint's findings and the ranking score on each suggestion; the filters in the
debug window. /v1/completions stays raw."""

from __future__ import annotations

from typing import Any

import pytest
from engine.tiny_models import CURSORS, MEMORISED
from http_fixtures import Running

from forecode.api.http.app import code_request
from forecode.api.http.replies import code_completion
from forecode.api.http.schemas import CodeCompletionBody
from forecode.completer import CompletionResult, Suggestion
from forecode.postprocess.candidate import Context
from forecode.postprocess.pipeline import run_pipeline

# The whole memorised file with the cursor in its last word (`+ na|me`): the model writes `me`,
# which the suffix already holds, so the suffix-overlap filter drops what raw output keeps.
REPEATS = {"text": MEMORISED, "cursor": CURSORS[-1]}
# The memorised line inside eval(: the model writes `lo, " + name`, and the completed line is an
# eval of something that is not a literal.
EVAL_LINE = '    message = eval("hel'
EVAL_DOC = "def greet(name):\n" + EVAL_LINE + ")\n    return message.upper()\n"
EVAL = {"text": EVAL_DOC, "cursor": EVAL_DOC.index(EVAL_LINE) + len(EVAL_LINE), "path": "greet.py"}
EVAL_FINDING = {"rule": "eval-exec", "message": "eval of something that is not a literal", "line": 1}


def complete(server: Running, **body: Any) -> dict[str, Any]:
    with server.client() as http:
        r = http.post("/v1/code/completions", json=body)
    assert r.status_code == 200, r.text
    reply: dict[str, Any] = r.json()
    return reply


def test_raw_keeps_the_text_the_pipeline_drops_and_the_debug_window_says_which_filter(server: Running) -> None:
    raw = complete(server, **REPEATS, postprocess="raw", debug=True)
    piped = complete(server, **REPEATS, debug=True)  # "pipeline" is the default
    assert [s["text"] for s in raw["suggestions"]] == ["me"] == raw["debug"]["raw"]
    assert raw["debug"]["postprocess"] == "raw" and raw["debug"]["filters"] == []
    assert [s["text"] for s in piped["suggestions"]] == [""] and piped["debug"]["raw"] == ["me"]
    assert piped["debug"]["postprocess"] == "pipeline"
    [record] = piped["debug"]["filters"]
    assert record["changes"][0]["filter"] == "suffix_overlap" and record["changes"][0]["before"] == "me"
    assert record["dropped"] is not None


def test_ranked_generates_k_candidates_and_scores_the_suggestions(server: Running) -> None:
    cursor = CURSORS[-1]
    doc = MEMORISED[:cursor] + MEMORISED[MEMORISED.index("\n", cursor):]  # `+ na|` with the line's end unwritten
    ranked = complete(server, text=doc, cursor=cursor, postprocess="ranked", candidates=3, seed=1, debug=True)
    debug = ranked["debug"]
    assert debug["postprocess"] == "ranked" and len(debug["raw"]) == 3 == len(debug["filters"])
    [best] = ranked["suggestions"]
    assert best["text"] == "me" == debug["ranking"][0]["text"]
    assert best["score"] == pytest.approx(debug["ranking"][0]["score"], abs=1e-4)
    piped = complete(server, text=doc, cursor=cursor)
    assert piped["suggestions"][0]["score"] is None and piped["suggestions"][0]["findings"] == []


def test_security_findings_are_reported_with_the_suggestion_or_filter_it_out(server: Running) -> None:
    reported = complete(server, **EVAL, debug=True)
    [s] = reported["suggestions"]
    assert s["text"] == 'lo, " + name'
    assert s["findings"] == [EVAL_FINDING] == reported["debug"]["filters"][0]["findings"]
    filtered = complete(server, **EVAL, security="filter", debug=True)
    assert filtered["suggestions"][0]["text"] == ""
    assert filtered["debug"]["filters"][0]["dropped"] == "security: eval-exec"
    raw = complete(server, **EVAL, postprocess="raw")
    assert raw["suggestions"][0]["text"] == 'lo, " + name' and raw["suggestions"][0]["findings"] == []  # no lint


def test_every_post_processing_field_reaches_the_completer() -> None:
    body = CodeCompletionBody.model_validate({"text": "x = ", "cursor": 4, "postprocess": "ranked", "candidates": 5,
                                              "secrets": "drop", "security": "filter"})
    request = code_request(body, "x = ", 4)
    assert (request.postprocess, request.candidates, request.secrets, request.security) == ("ranked", 5, "drop", "filter")
    default = code_request(CodeCompletionBody.model_validate({"text": "x = ", "cursor": 4}), "x = ", 4)
    assert (default.postprocess, default.secrets, default.security) == ("pipeline", "mask", "report")


def test_findings_in_the_reply_come_from_the_pipeline_line_by_line() -> None:
    prefix = "import subprocess, yaml\ndef run(cmd, path):\n    "
    text = "subprocess.run(cmd, shell=True)\n    return yaml.load(open(path))"
    c = run_pipeline(text, Context(prefix, "\n"))
    result = CompletionResult([Suggestion(c.text, -1.0, [], "end_of_text", c.findings)])
    [s] = code_completion(result, "memorised", prefix + "\n", len(prefix), debug=False)["suggestions"]
    assert s["text"] == text
    assert [(f["rule"], f["line"]) for f in s["findings"]] == [("shell-injection", 1), ("yaml-load", 2)]
    assert all(f["message"] for f in s["findings"])


@pytest.mark.parametrize("field, value, message", [
    ("postprocess", "best", "postprocess: Input should be 'raw', 'pipeline' or 'ranked' (got \"best\")"),
    ("postprocess", None, "postprocess: Input should be 'raw', 'pipeline' or 'ranked' (got null)"),
    ("candidates", 0, "candidates: Input should be greater than or equal to 1 (got 0)"),
    ("candidates", 17, "candidates: Input should be less than or equal to 16 (got 17)"),
    ("candidates", "2", "candidates: Input should be a valid integer (got \"2\")"),
    ("secrets", "redact", "secrets: Input should be 'mask' or 'drop' (got \"redact\")"),
    ("security", "block", "security: Input should be 'report' or 'filter' (got \"block\")"),
])
def test_a_bad_value_is_refused_naming_the_field_and_what_it_may_be(server: Running, field: str, value: Any,
                                                                     message: str) -> None:
    with server.client() as http:
        r = http.post("/v1/code/completions", json={**REPEATS, field: value})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == message and r.json()["error"]["param"] == field


def test_openai_completions_stay_raw(server: Running) -> None:
    cursor = CURSORS[-1]
    with server.client() as http:
        r = http.post("/v1/completions", json={"prompt": MEMORISED[:cursor], "suffix": MEMORISED[cursor:], "max_tokens": 8})
        assert r.json()["choices"][0]["text"] == "me"  # what the pipeline would drop as overlap
        refused = http.post("/v1/completions", json={"prompt": "x = ", "postprocess": "pipeline"})
    assert refused.status_code == 400 and refused.json()["error"]["message"] == "unknown field 'postprocess'"


def test_a_dropped_candidate_ranks_last_and_the_reply_is_still_json(server: Running) -> None:
    reply = complete(server, **REPEATS, postprocess="ranked", candidates=2, seed=1, debug=True)
    ranking = reply["debug"]["ranking"]
    dropped = [r for r in ranking if r["text"] == ""]
    assert dropped and all(r["score"] is None for r in dropped)  # -inf, which JSON cannot say
    assert ranking[-1]["score"] is None
