"""The JSON answers: a CompletionResult in OpenAI's completions shape, or forecode's richer
code-completion shape with replace ranges, security findings, ranking scores and the debug
window."""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

from forecode.api.http.positions import line_character
from forecode.completer import CompletionResult, Suggestion

FINISH = {"end_of_text": "stop", "stop_rule": "stop", "max_tokens": "length", "cancelled": "cancelled"}


def completion_id() -> str:
    return f"cmpl-{uuid.uuid4().hex[:24]}"


def usage(result: CompletionResult) -> dict[str, int]:
    prompt = int(result.debug.get("prompt_tokens", 0))
    generated = generated_tokens(result)
    return {"prompt_tokens": prompt, "completion_tokens": generated, "total_tokens": prompt + generated}


def generated_tokens(result: CompletionResult) -> int:
    return sum(int(g["new_tokens"]) for g in result.debug.get("timings", {}).get("generations", []))


def openai_logprobs(s: Suggestion, offset: int, top: int) -> dict[str, Any]:
    """OpenAI's legacy logprobs object. Only the chosen token is known, so `top_logprobs`
    holds that one token whatever `logprobs` asked for."""
    offsets = []
    for t in s.tokens:
        offsets.append(offset)
        offset += len(t.text)
    return {
        "tokens": [t.text for t in s.tokens],
        "token_logprobs": [t.logprob for t in s.tokens],
        "top_logprobs": [{t.text: t.logprob} for t in s.tokens] if top > 0 else None,
        "text_offset": offsets,  # in code points, from the start of the prompt as OpenAI counts
    }


def openai_completion(result: CompletionResult, model: str, prompt_chars: int, logprobs: int | None) -> dict[str, Any]:
    return {
        "id": completion_id(),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "text": s.text,
                "index": i,
                "logprobs": None if logprobs is None else openai_logprobs(s, prompt_chars, logprobs),
                "finish_reason": FINISH[s.finish_reason],
            }
            for i, s in enumerate(result.suggestions)
        ],
        "usage": usage(result),
    }


def openai_chunk(cid: str, created: int, model: str, index: int, text: str, finish_reason: str | None) -> dict[str, Any]:
    return {"id": cid, "object": "text_completion", "created": created, "model": model,
            "choices": [{"text": text, "index": index, "logprobs": None, "finish_reason": finish_reason}]}


def code_completion(result: CompletionResult, model: str, text: str, cursor: int, debug: bool) -> dict[str, Any]:
    at = line_character(text, cursor)
    reply: dict[str, Any] = {
        "id": completion_id(),
        "object": "code_completion",
        "created": int(time.time()),
        "model": model,
        "suggestions": [
            {
                "text": s.text,
                "range": {"start": at, "end": at},  # inserted at the cursor, nothing replaced
                "logprob": s.logprob,
                "finish_reason": FINISH[s.finish_reason],
                "tokens": [{"text": t.text, "logprob": t.logprob} for t in s.tokens],
                "findings": [{"rule": f.rule, "message": f.message, "line": f.line} for f in s.findings],
                "score": s.score,  # postprocess "ranked" only
            }
            for s in result.suggestions
        ],
        "usage": usage(result),
    }
    if debug:
        reply["debug"] = json_safe(result.debug)
    return reply


def json_safe(value: Any) -> Any:
    """`value` with the floats JSON has no word for (the -inf score of a dropped candidate in the
    debug window's ranking) as null: Starlette refuses to send them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
