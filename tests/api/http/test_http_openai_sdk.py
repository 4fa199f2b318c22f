"""The `openai` SDK, unchanged, against forecode's /v1/completions on a real server."""

from __future__ import annotations

import openai
import pytest
from http_fixtures import Running
from engine.tiny_models import CURSORS, document_at


@pytest.fixture
def sdk(server: Running) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base}/v1", api_key="not-needed-on-loopback", max_retries=0)


def _prompt(cursor: int = CURSORS[0]) -> tuple[str, str, str]:
    doc, rest = document_at(cursor)
    return doc[:cursor], doc[cursor:], rest


def test_a_plain_completion_fills_in_the_middle(sdk: openai.OpenAI) -> None:
    prompt, suffix, rest = _prompt()
    reply = sdk.completions.create(model="memorised", prompt=prompt, suffix=suffix, max_tokens=32)
    assert reply.object == "text_completion" and reply.model == "memorised"
    [choice] = reply.choices
    assert choice.text == rest and choice.finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_max_tokens_cuts_the_completion_with_finish_reason_length(sdk: openai.OpenAI) -> None:
    prompt, suffix, rest = _prompt()
    [choice] = sdk.completions.create(model="memorised", prompt=prompt, suffix=suffix, max_tokens=3).choices
    assert choice.finish_reason == "length"
    assert rest.startswith(choice.text) and len(choice.text) < len(rest)


def test_n_gives_that_many_choices(sdk: openai.OpenAI) -> None:
    prompt, suffix, rest = _prompt()
    reply = sdk.completions.create(model="memorised", prompt=prompt, suffix=suffix, max_tokens=32, n=3,
                                   temperature=0.7, seed=1)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert all(c.finish_reason in ("stop", "length") for c in reply.choices)


def test_stop_ends_the_completion_before_the_stop_string(sdk: openai.OpenAI) -> None:
    prompt, suffix, rest = _prompt()
    [choice] = sdk.completions.create(model="memorised", prompt=prompt, suffix=suffix, max_tokens=32, stop=[" +"]).choices
    assert choice.text == rest[: rest.index(" +")] and choice.finish_reason == "stop"


def test_logprobs_come_per_token(sdk: openai.OpenAI) -> None:
    prompt, suffix, rest = _prompt()
    [choice] = sdk.completions.create(model="memorised", prompt=prompt, suffix=suffix, max_tokens=32, logprobs=1).choices
    lp = choice.logprobs
    assert lp is not None and lp.tokens and lp.token_logprobs and lp.text_offset and lp.top_logprobs
    assert "".join(lp.tokens).startswith(choice.text)
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.text_offset)
    assert all(p is not None and p <= 0 for p in lp.token_logprobs)
    assert lp.text_offset[0] == len(prompt)  # OpenAI counts offsets from the start of the prompt


def test_streaming_sends_the_same_text_in_pieces(sdk: openai.OpenAI) -> None:
    prompt, suffix, rest = _prompt()
    chunks = list(sdk.completions.create(model="memorised", prompt=prompt, suffix=suffix, max_tokens=32, stream=True))
    assert len(chunks) > 2
    assert "".join(c.choices[0].text for c in chunks) == rest
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_streaming_never_sends_text_a_stop_string_later_removes(sdk: openai.OpenAI) -> None:
    prompt, suffix, rest = _prompt()
    stop = ', "'  # its first character arrives as a token of its own before the rest
    chunks = list(sdk.completions.create(model="memorised", prompt=prompt, suffix=suffix, max_tokens=32,
                                         stop=stop, stream=True))
    assert "".join(c.choices[0].text for c in chunks) == rest[: rest.index(stop)]


def test_streaming_several_choices_and_usage(sdk: openai.OpenAI) -> None:
    prompt, suffix, rest = _prompt()
    chunks = list(sdk.completions.create(model="memorised", prompt=prompt, suffix=suffix, max_tokens=32, n=2,
                                         stream=True, stream_options={"include_usage": True}))
    texts = {i: "".join(c.choices[0].text for c in chunks if c.choices and c.choices[0].index == i) for i in (0, 1)}
    assert texts == {0: rest, 1: rest}  # greedy: both the same
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_models_lists_the_served_model(sdk: openai.OpenAI) -> None:
    assert [m.id for m in sdk.models.list()] == ["memorised"]


def test_a_refused_field_is_a_bad_request_error_in_the_sdk(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="echo is not supported"):
        sdk.completions.create(model="memorised", prompt="x = ", echo=True)
