"""/v1/code/completions: the cursor as an offset or a line and character, the replace range,
ranked suggestions and the debug window."""

from __future__ import annotations

import pytest

from engine.tiny_models import CURSORS, document_at
from http_fixtures import Running

DOC, REST = document_at(CURSORS[0])


def test_a_suggestion_comes_with_its_range(server: Running) -> None:
    with server.client() as http:
        reply = http.post("/v1/code/completions", json={"text": DOC, "cursor": CURSORS[0]}).json()
    [s] = reply["suggestions"]
    assert s["text"] == REST and s["finish_reason"] == "stop"
    line = DOC.count("\n", 0, CURSORS[0])
    at = {"offset": CURSORS[0], "line": line, "character": CURSORS[0] - DOC.rfind("\n", 0, CURSORS[0]) - 1}
    assert s["range"] == {"start": at, "end": at}
    assert s["logprob"] == sum(t["logprob"] for t in s["tokens"]) and s["logprob"] < 0
    assert reply["object"] == "code_completion" and "debug" not in reply


def test_line_and_character_count_code_points_past_emoji_and_cjk(server: Running) -> None:
    head = "# 挨拶 👋🏽 greet\n"  # CJK and an emoji with a skin-tone modifier: 2 code points, 4 UTF-16 units
    text = head + DOC
    cursor = len(head) + CURSORS[0]
    line, character = text.count("\n", 0, cursor), cursor - text.rfind("\n", 0, cursor) - 1
    with server.client() as http:
        by_offset = http.post("/v1/code/completions", json={"text": text, "cursor": cursor}).json()
        by_position = http.post("/v1/code/completions",
                                json={"text": text, "position": {"line": line, "character": character}}).json()
    assert by_offset["suggestions"][0]["range"]["start"] == {"offset": cursor, "line": line, "character": character}
    # the same suggestion; the second request may reuse the first one's cached prompt, whose
    # float sums can differ in the last bits (seen on an AVX-512 machine), so log-probs are approximate
    same = [(s["text"], s["range"], s["finish_reason"], [t["text"] for t in s["tokens"]]) for s in by_offset["suggestions"]]
    assert [(s["text"], s["range"], s["finish_reason"], [t["text"] for t in s["tokens"]])
            for s in by_position["suggestions"]] == same
    assert [s["logprob"] for s in by_position["suggestions"]] == pytest.approx([s["logprob"] for s in by_offset["suggestions"]], abs=1e-4)


def test_n_suggestions_are_ranked_best_first(server: Running) -> None:
    with server.client() as http:
        reply = http.post("/v1/code/completions", json={"text": DOC, "cursor": CURSORS[0], "n": 4,
                                                        "temperature": 1.5, "seed": 3}).json()
    means = [s["logprob"] / max(1, len(s["tokens"])) for s in reply["suggestions"]]
    assert len(means) == 4 and means == sorted(means, reverse=True)


def test_the_debug_window_shows_prompt_raw_output_scope_and_timings(server: Running) -> None:
    with server.client() as http:
        reply = http.post("/v1/code/completions", json={"text": DOC, "cursor": CURSORS[0], "debug": True,
                                                        "path": "greet.py", "language": "python"}).json()
    debug = reply["debug"]
    assert "<|fim_prefix|>" in debug["prompt"] and debug["raw"][0].startswith(REST)
    assert debug["scope"] != "none" and debug["timings"]["total_ms"] > 0
    assert reply["usage"]["prompt_tokens"] == debug["prompt_tokens"]
