"""Golden cases, one folder per filter: golden/<filter>/<case>.json holds the document with the
cursor marked `<CURSOR>`, the model's raw output, and what the filter must make of it (and, for
the security lint, the rules it must report). One parametrized test per filter runs its folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from forecode.postprocess.brackets import truncate_at_brackets
from forecode.postprocess.candidate import Candidate, Context, Filter, candidate
from forecode.postprocess.credentials import mask_credentials
from forecode.postprocess.repetition import remove_repetition
from forecode.postprocess.scope import truncate_at_scope
from forecode.postprocess.security import lint_suggestion
from forecode.postprocess.suffix_overlap import remove_suffix_overlap
from forecode.postprocess.syntax import check_syntax
from forecode.postprocess.trivial import drop_trivial
from forecode.postprocess.whitespace import normalise_whitespace

GOLDEN = Path(__file__).parent / "golden"
CURSOR = "<CURSOR>"


def cases(folder: str) -> list[Any]:
    paths = sorted((GOLDEN / folder).glob("*.json"))
    assert paths, f"no golden cases in {GOLDEN / folder}"
    return [pytest.param(json.loads(p.read_text(encoding="utf-8")), id=p.stem) for p in paths]


def apply(filter_: Filter, case: dict[str, Any]) -> Candidate:
    assert case["text"].count(CURSOR) == 1, "mark the cursor exactly once"
    prefix, suffix = case["text"].split(CURSOR)
    context = Context(prefix, suffix, case.get("language", "python"), **case.get("options", {}))
    return filter_(candidate(case["raw"], context))


def check(filter_: Filter, case: dict[str, Any]) -> Candidate:
    out = apply(filter_, case)
    assert out.text == case["expected"]
    if out.text != case["raw"]:  # every change is on record, for the debug window
        assert out.changes and out.changes[-1].after == out.text
    else:
        assert not out.changes
    return out


@pytest.mark.parametrize("case", cases("scope"))
def test_scope(case: dict[str, Any]) -> None:
    check(truncate_at_scope, case)


@pytest.mark.parametrize("case", cases("brackets"))
def test_brackets(case: dict[str, Any]) -> None:
    check(truncate_at_brackets, case)


@pytest.mark.parametrize("case", cases("suffix_overlap"))
def test_suffix_overlap(case: dict[str, Any]) -> None:
    check(remove_suffix_overlap, case)


@pytest.mark.parametrize("case", cases("repetition"))
def test_repetition(case: dict[str, Any]) -> None:
    check(remove_repetition, case)


@pytest.mark.parametrize("case", cases("whitespace"))
def test_whitespace(case: dict[str, Any]) -> None:
    check(normalise_whitespace, case)


@pytest.mark.parametrize("case", cases("trivial"))
def test_trivial(case: dict[str, Any]) -> None:
    out = check(drop_trivial, case)
    assert (out.dropped is not None) == (case["expected"] == "")


@pytest.mark.parametrize("case", cases("credentials"))
def test_credentials(case: dict[str, Any]) -> None:
    check(mask_credentials, case)


@pytest.mark.parametrize("case", cases("syntax"))
def test_syntax(case: dict[str, Any]) -> None:
    check(check_syntax, case)


@pytest.mark.parametrize("case", cases("security"))
def test_security(case: dict[str, Any]) -> None:
    out = check(lint_suggestion, case)
    assert sorted({f.rule for f in out.findings}) == sorted(case["findings"])
    assert all(f.line >= 1 for f in out.findings)
