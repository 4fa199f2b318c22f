"""Prompt-lookup decoding: drafts found in the sequence, verified several tokens per forward pass,
and an output identical to plain greedy decoding, with healing, stop rules, cancellation and
the token limit honoured exactly as the plain loop honours them."""

from __future__ import annotations

import json.decoder
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from forecode.engine.base import Generation, GenerationRequest
from forecode.engine.builtin import BuiltinEngine, HealingMasks
from forecode.engine.lookup import PromptLookup
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.healing import TokenHealer

from .tiny_models import CURSORS, memorised_model, random_model, taught_example

SOURCES = [Path(json.decoder.__file__).read_text(), Path(textwrap.__file__).read_text()]


def test_draft_is_what_followed_the_latest_occurrence_of_the_longest_tail() -> None:
    lookup = PromptLookup([1, 2, 3, 9, 9, 1, 2, 3, 7, 8, 5, 2, 3], min_ngram=1)
    assert lookup.draft() == [7, 8, 5, 2, 3]  # "2 3" last seen before 7; "5 2 3" never
    lookup.append(7)
    assert lookup.draft() == [8, 5, 2, 3, 7]  # "2 3 7" seen once
    assert lookup.draft(limit=2) == [8, 5]
    assert lookup.draft(limit=0) == []


def test_no_draft_without_an_earlier_occurrence() -> None:
    assert PromptLookup([1, 2, 3, 4]).draft() == []
    assert PromptLookup([5]).draft() == []
    assert PromptLookup([]).draft() == []
    assert PromptLookup([1, 2, 3, 1, 2], min_ngram=3).draft() == []  # only a 2-gram repeats


def test_matches_across_token_boundaries_are_not_matches() -> None:
    # 256 is the bytes 00 01 00 00 and 0 is 00 00 00 00, so the bytes of token 1 (01 00 00 00)
    # occur inside them one byte off: not an occurrence of the token
    assert PromptLookup([256, 0, 5, 1], min_ngram=1).draft() == []
    assert PromptLookup([256, 0, 1, 6, 5, 1], min_ngram=1).draft() == [6, 5, 1]


def test_the_reference_is_searched_too_and_drafts_stop_at_its_end() -> None:
    previous = [10, 11, 12, 13, 14, 15]  # what the last request generated after the shared prefix
    lookup = PromptLookup([1, 2, 3, 11, 12], reference=previous, min_ngram=2)
    assert lookup.draft() == [13, 14, 15]  # found in the reference; the separator ends the draft
    lookup.append(13)
    assert lookup.draft(limit=1) == [14]
    assert PromptLookup([12, 13], reference=[12, 13], min_ngram=2).draft() == []  # nothing follows it there
    assert PromptLookup([7, 8], reference=[7, 8, 9]).draft() == []  # shorter than min_ngram


def test_healing_masks_equal_the_healers_scan(tiny_tokenizer: CodeTokenizer) -> None:
    masks, healer = HealingMasks(tiny_tokenizer), TokenHealer(tiny_tokenizer)
    texts = [b"lo", b"    ", b" =", b"s", b"json.lo", b"\xff", b"\xc3", b"se", b"def", b"\n", b"x" * 40]
    texts += [b for b in tiny_tokenizer.token_bytes[:300] if b]
    for remaining in texts:
        assert sorted(masks.allowed(remaining).tolist()) == healer.allowed(remaining), remaining
        assert masks.allowed(remaining) is masks.allowed(remaining)  # remembered


def pair(model_name: str, tokenizer_path: Path, tokenizer: CodeTokenizer) -> tuple[BuiltinEngine, BuiltinEngine]:
    """(with lookup, plain), both without the prefix cache, so only decoding differs."""
    model = random_model(tokenizer_path) if model_name == "random" else memorised_model(tokenizer_path)
    return (BuiltinEngine(model, tokenizer, prefix_cache=False),
            BuiltinEngine(model, tokenizer, prefix_cache=False, prompt_lookup=False))


class CountingForwards:
    """Counts the forward passes an engine's model runs after the prefill."""

    def __init__(self, engine: BuiltinEngine) -> None:
        self.calls = 0
        hidden = engine.packed.hidden

        def counted(*args: object, **kwargs: object) -> object:
            self.calls += 1
            return hidden(*args, **kwargs)  # type: ignore[arg-type]

        engine.packed.hidden = counted  # type: ignore[method-assign]
        self.undo: Callable[[], None] = lambda: delattr(engine.packed, "hidden")


@pytest.fixture
def forwards() -> Iterator[list[CountingForwards]]:
    made: list[CountingForwards] = []
    yield made
    for c in made:
        c.undo()


def assert_same(got: Generation, expected: Generation) -> None:
    assert got.token_ids == expected.token_ids
    assert got.text == expected.text
    assert got.finish_reason == expected.finish_reason
    assert got.token_logprobs == pytest.approx(expected.token_logprobs, abs=1e-5)


def test_output_equals_plain_greedy_on_real_code_in_fewer_forward_passes(
    tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, forwards: list[CountingForwards]
) -> None:
    fast, plain = pair("random", tiny_tokenizer_path, tiny_tokenizer)
    counter = CountingForwards(fast)
    forwards.append(counter)
    tokens = passes = 0
    for source in SOURCES:
        ids = tiny_tokenizer.encode(source)
        for start in range(0, 1200, 150):
            request = GenerationRequest(ids[start : start + 180], max_new_tokens=48)
            before = counter.calls
            got = fast.generate(request)
            passes += counter.calls - before - 1  # not the prefill
            assert_same(got, plain.generate(request))
            tokens += len(got.token_ids)
    assert passes < tokens * 0.9  # the drafts were verified several tokens at a time


@pytest.mark.parametrize("max_new", [1, 2, 3, 5, 17])
def test_the_token_limit_is_exact(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, max_new: int) -> None:
    fast, plain = pair("random", tiny_tokenizer_path, tiny_tokenizer)
    prompt = tiny_tokenizer.encode(SOURCES[0])[:200]
    got = fast.generate(GenerationRequest(prompt, max_new_tokens=max_new))
    assert_same(got, plain.generate(GenerationRequest(prompt, max_new_tokens=max_new)))
    assert len(got.token_ids) <= max_new


def test_the_models_last_positions_are_never_overrun(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer) -> None:
    fast, plain = pair("random", tiny_tokenizer_path, tiny_tokenizer)
    ids = tiny_tokenizer.encode(SOURCES[1])
    prompt = (ids * 2)[: fast.model.max_positions - 6]  # repeated text: long drafts
    got = fast.generate(GenerationRequest(prompt, max_new_tokens=64))
    assert_same(got, plain.generate(GenerationRequest(prompt, max_new_tokens=64)))
    assert len(got.token_ids) == 6


@pytest.mark.parametrize("forced", [b"lo", b"    ", b"json.lo", b" ="])
def test_healing_is_honoured(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, forced: bytes) -> None:
    fast, plain = pair("random", tiny_tokenizer_path, tiny_tokenizer)
    ids = tiny_tokenizer.encode(SOURCES[0])
    for start in (0, 300, 600):
        request = GenerationRequest(ids[start : start + 150], max_new_tokens=24, forced_prefix=forced)
        got = fast.generate(request)
        assert_same(got, plain.generate(request))
        spelled = b"".join(tiny_tokenizer.token_bytes[i] for i in got.token_ids)
        assert spelled.startswith(forced)


def test_the_memorised_completion_heals_and_ends_the_same(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer) -> None:
    fast, plain = pair("memorised", tiny_tokenizer_path, tiny_tokenizer)
    for cursor in CURSORS:
        prompt, forced, _ = taught_example(tiny_tokenizer, cursor)
        request = GenerationRequest(prompt, max_new_tokens=32, forced_prefix=forced)
        got = fast.generate(request)
        assert_same(got, plain.generate(request))
        assert got.finish_reason == "end_of_text"


@pytest.mark.parametrize("stop_after", [1, 4, 9, 30])
def test_stop_rules_see_the_same_texts(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, stop_after: int) -> None:
    fast, plain = pair("random", tiny_tokenizer_path, tiny_tokenizer)
    prompt = tiny_tokenizer.encode(SOURCES[1])[:220]

    def run(engine: BuiltinEngine) -> tuple[Generation, list[str]]:
        seen: list[str] = []

        def stop_when(text: str) -> bool:
            seen.append(text)
            return len(seen) >= stop_after

        return engine.generate(GenerationRequest(prompt, max_new_tokens=40, stop_when=stop_when)), seen

    (got, seen_fast), (expected, seen_plain) = run(fast), run(plain)
    assert_same(got, expected)
    assert seen_fast == seen_plain
    assert got.finish_reason == "stop_rule"


@pytest.mark.parametrize("polls", [1, 2, 6, 15])
def test_cancellation_is_polled_as_often_and_ends_at_the_same_token(
    tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, polls: int
) -> None:
    fast, plain = pair("random", tiny_tokenizer_path, tiny_tokenizer)
    prompt = tiny_tokenizer.encode(SOURCES[0])[:220]

    def run(engine: BuiltinEngine) -> tuple[Generation, int]:
        count = 0

        def cancelled() -> bool:
            nonlocal count
            count += 1
            return count >= polls

        return engine.generate(GenerationRequest(prompt, max_new_tokens=40, cancelled=cancelled)), count

    (got, n_fast), (expected, n_plain) = run(fast), run(plain)
    assert_same(got, expected)
    assert n_fast == n_plain == polls
    assert got.finish_reason == "cancelled"


def test_sampling_never_drafts(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer) -> None:
    fast, plain = pair("random", tiny_tokenizer_path, tiny_tokenizer)
    prompt = tiny_tokenizer.encode(SOURCES[0])[:200]
    for seed in range(3):
        request = GenerationRequest(prompt, max_new_tokens=16, temperature=0.8, seed=seed)
        assert_same(fast.generate(request), plain.generate(request))


def test_keystrokes_with_the_last_suggestion_as_reference_equal_plain_greedy(
    tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer
) -> None:
    """The full fast path, as the server runs it: prefix cache, lookup and the previous
    generation as a reference, keystroke after keystroke through the completer's prompts."""
    from forecode.completer import Completer

    model = random_model(tiny_tokenizer_path)
    fast = BuiltinEngine(model, tiny_tokenizer, "spm")
    plain = BuiltinEngine(model, tiny_tokenizer, "spm", prefix_cache=False, prompt_lookup=False)
    text = SOURCES[1]
    start = text.index("        if self.width <= 0:")
    end = text.index("\n", start)
    completer = Completer(fast)
    references = 0
    for cursor in range(start + 8, end + 1):
        doc = text[:cursor] + text[end:]
        built = completer.build_prompt(doc, cursor, 24)
        request = GenerationRequest(built.ids, max_new_tokens=built.max_new, forced_prefix=built.backed_off)
        assert_same(fast.generate(request), plain.generate(request))
        assert fast.prefix_cache is not None
        references += bool(fast.prefix_cache._pool[-1].dropped)
    assert references >= (end - start - 8) // 2  # most keystrokes had the last sequence's end to search
