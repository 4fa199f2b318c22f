"""The pipeline as a whole: order, the record of changes, ranking, and properties that must hold
for any text, suffix and cursor (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecode.postprocess.candidate import Context, candidate
from forecode.postprocess.pipeline import FILTERS, run_pipeline
from forecode.postprocess.ranking import distinct, rank
from forecode.postprocess.suffix_overlap import merely_repeats_suffix

CODE_BITS = ["def f(x):\n", "    return x\n", "if a:", "\n", "    ", "\t", "(", ")", "[", "]", "{", "}", "'", '"', '"""',
             "#", "x = 1", "yield", "é", "漢字", "🙂", "\\", ":", ",", "password = 'hunter22'", "eval(s)", "\r\n"]
code = st.lists(st.one_of(st.sampled_from(CODE_BITS), st.text(max_size=8)), max_size=12).map("".join)


def test_the_filters_run_in_the_documented_order() -> None:
    names = [name for name, _ in FILTERS]
    assert names[0] == "scope" and names[-1] == "trivial"
    assert names.index("whitespace") < names.index("syntax") < names.index("security")


def test_a_looping_block_suggestion_comes_out_short_and_parseable() -> None:
    prefix, suffix = "def f(x):\n    ", "\n"
    raw = "if len(x) == 1:\n        if len(x) == 1:\n            return len(1)\n    else:\n        return len(1)\n"
    out = run_pipeline(raw, Context(prefix, suffix))
    assert out.text == "if len(x) == 1:"  # the loop is cut, then the syntax check cuts nothing more
    assert [ch.filter for ch in out.changes] == ["scope", "repetition"]
    assert out.raw == raw


def test_the_pipeline_records_each_change_in_order() -> None:
    out = run_pipeline("lue), 2)\nprint(1)\n", Context("print(compute(va", "), 2)\n"))
    assert out.text == "lue"
    assert [ch.filter for ch in out.changes] == ["scope", "suffix_overlap"]
    assert out.changes[0].before == "lue), 2)\nprint(1)\n" and out.changes[-1].after == "lue"


def test_ranking_prefers_agreement_and_keeps_dropped_last() -> None:
    ctx = Context("x = ", "\n")
    cands = [candidate("compute(a)", ctx), candidate("compute(a)", ctx), candidate("other()", ctx), candidate("", ctx)]
    order = rank(cands, [-0.7, -0.8, -0.5, 0.0])
    assert [s.index for s in order] == [0, 1, 2, 3]  # two agree: -0.7 + 1/3 beats -0.5
    assert [s.candidate.text for s in distinct(order)] == ["compute(a)", "other()", ""]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=code, raw=code, data=st.data())
def test_the_pipeline_never_raises_and_never_only_repeats_the_suffix(document: str, raw: str, data: st.DataObject) -> None:
    cursor = data.draw(st.integers(0, len(document)))
    language = data.draw(st.sampled_from(["python", "javascript", "text"]))
    prefix, suffix = document[:cursor], document[cursor:]
    out = run_pipeline(raw, Context(prefix, suffix, language))
    assert isinstance(out.text, str)
    assert not merely_repeats_suffix(out.text, suffix)
    assert (out.dropped is None) or out.text == ""


@settings(max_examples=80, deadline=None)
@given(prefix=code, suffix=code)
def test_a_suggestion_that_is_the_suffix_comes_back_empty(prefix: str, suffix: str) -> None:
    out = run_pipeline(suffix, Context(prefix, suffix))
    if suffix.strip():
        assert out.text == ""
