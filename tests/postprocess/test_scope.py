"""Where a suggestion ends: scope detection at the cursor, and cutting model output to it."""

from __future__ import annotations

import pytest

from forecode.postprocess.scope import Mode, Scope, cut_to_scope, detect_scope


def scope_at(marked: str) -> Scope:
    """The scope for a document with the cursor marked by `|`."""
    prefix, suffix = marked.split("|")
    return detect_scope(prefix, suffix)


@pytest.mark.parametrize(
    "marked",
    ["x = os.pa|", "x = |\n", "    return |value\n", "def f(|):\n", "if x:|\n    pass\n"],
)
def test_cursor_inside_a_line_is_line_scope(marked: str) -> None:
    assert scope_at(marked).mode is Mode.LINE


@pytest.mark.parametrize(
    ("marked", "indent"),
    [("|foo()\n", 0), ("def f():\n    x = 1\n|    return x\n", 4), ("def f():\n    |return x\n", 4)],
)
def test_start_of_a_non_empty_line_inserts_before_it(marked: str, indent: int) -> None:
    """Code inserted before the line (HumanEval's multi-line gaps look like this), not the rest of it."""
    assert scope_at(marked) == Scope(Mode.INSERT, indent)


@pytest.mark.parametrize(("marked", "indent"), [("if x:|", 0), ("    for a in b:  # each|\n\nz = 1\n", 4)])
def test_end_of_an_opener_without_a_body_is_block_scope(marked: str, indent: int) -> None:
    assert scope_at(marked) == Scope(Mode.BLOCK, indent)


def test_insert_scope_ends_where_it_rejoins_the_suffix() -> None:
    scope = Scope(Mode.INSERT, 4)
    raw = "    total = sum(xs)\n    return total\n    print(1)\n"
    assert cut_to_scope(raw, scope, "", "    return total\n") == ("    total = sum(xs)", True)


def test_insert_scope_ends_at_a_dedent() -> None:
    raw = "    a = 1\n    b = 2\ndef g():\n"
    assert cut_to_scope(raw, Scope(Mode.INSERT, 4), "", "    return a\n") == ("    a = 1\n    b = 2", True)


@pytest.mark.parametrize(
    ("marked", "indent"),
    [
        ("def f():\n    |", 0),
        ("def f():\n|", 0),
        ("class A:\n    def m(self):\n        |\n", 4),
        ("    if x:\n        |", 4),
        ("if x:  # the usual case\n    |\n", 0),
        ("for i in range(3):\n\n    |", 0),  # blank lines between opener and cursor
        ("try:\n    |\nexcept ValueError:\n    pass\n", 0),
    ],
)
def test_empty_line_after_block_opener_is_block_scope(marked: str, indent: int) -> None:
    assert scope_at(marked) == Scope(Mode.BLOCK, indent)


@pytest.mark.parametrize("marked", ["x = 1\n|", "|", "import os\n\n|\n\nprint(1)\n", "def f():\n    return 1\n|", "d = {'a': 1}\n    |"])
def test_empty_line_elsewhere_is_statement_scope(marked: str) -> None:
    assert scope_at(marked).mode is Mode.STATEMENT


LINE = Scope(Mode.LINE, 0)
STATEMENT = Scope(Mode.STATEMENT, 0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("path.join(a, b)\nprint(x)\n", ("path.join(a, b)", True)),
        ("\nprint(x)", ("", True)),
        ("path.join(a", ("path.join(a", False)),  # not finished: keep generating
    ],
)
def test_line_scope_stops_at_first_newline(raw: str, expected: tuple[str, bool]) -> None:
    assert cut_to_scope(raw, LINE) == expected


def test_block_scope_keeps_the_body_and_stops_at_the_dedent() -> None:
    raw = "total = 0\n    for x in xs:\n        total += x\n\n    return total\n\n\ndef g():\n    pass\n"
    text, done = cut_to_scope(raw, Scope(Mode.BLOCK, 0))
    assert text == "total = 0\n    for x in xs:\n        total += x\n\n    return total"
    assert done


def test_block_scope_in_a_method_stops_at_the_next_method() -> None:
    raw = "return self.x\n\n    def other(self):\n        pass\n"
    assert cut_to_scope(raw, Scope(Mode.BLOCK, 4)) == ("return self.x", True)


def test_block_scope_without_dedent_is_not_finished() -> None:
    raw = "a = 1\n    b = 2\n"
    assert cut_to_scope(raw, Scope(Mode.BLOCK, 0)) == (raw, False)


def test_statement_scope_stops_at_the_end_of_a_simple_statement() -> None:
    assert cut_to_scope("x = 1\ny = 2\n", STATEMENT) == ("x = 1", True)


def test_statement_scope_keeps_a_multi_line_call() -> None:
    raw = "result = compute(\n    a,\n    b,\n)\nprint(result)\n"
    assert cut_to_scope(raw, STATEMENT) == ("result = compute(\n    a,\n    b,\n)", True)


def test_statement_scope_keeps_nested_brackets_over_lines() -> None:
    raw = "table = {\n    'a': [1,\n          2],\n    'b': (3, 4),\n}\nnext_statement()\n"
    assert cut_to_scope(raw, STATEMENT) == ("table = {\n    'a': [1,\n          2],\n    'b': (3, 4),\n}", True)


def test_statement_scope_with_open_bracket_is_not_finished() -> None:
    raw = "result = compute(\n    a,\n"
    assert cut_to_scope(raw, STATEMENT) == (raw, False)


def test_statement_scope_follows_a_backslash_continuation() -> None:
    raw = "total = a + \\\n    b\nprint(total)\n"
    assert cut_to_scope(raw, STATEMENT) == ("total = a + \\\n    b", True)


def test_statement_that_opens_a_block_takes_the_body() -> None:
    raw = "for x in xs:\n        print(x)\n\n        y += x\n    return y\n"
    text, done = cut_to_scope(raw, Scope(Mode.STATEMENT, 0), line_prefix="    ")
    assert text == "for x in xs:\n        print(x)\n\n        y += x"
    assert done


def test_statement_that_opens_a_multi_line_block_header_takes_the_body() -> None:
    raw = "if (a and\n        b):\n    run()\n    log()\nafter()\n"
    assert cut_to_scope(raw, STATEMENT) == ("if (a and\n        b):\n    run()\n    log()", True)
