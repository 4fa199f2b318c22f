"""The symbol table: functions, classes, methods, module-level variables and import aliases."""

from __future__ import annotations

from forecode.context.facts import file_facts
from forecode.context.symbols import SymbolTable

SOURCE = '''import numpy as np
from os import path as osp, sep

RETRIES = 3
name: str = "x"

if True:
    def conditional():
        pass


@cache
def compute(a: int,
            b: int = 2) -> int:
    return a * b


class Shape(Base):
    sides = 0

    def area(self) -> float:
        return 0.0

    class Inner:
        def deep(self):
            pass
'''


def test_symbol_entries_have_kind_signature_and_line() -> None:
    symbols = {(s.qualified_name, s.kind): s for s in file_facts("geo.py", SOURCE).symbols}
    assert set(symbols) == {
        ("np", "import alias"), ("osp", "import alias"), ("RETRIES", "variable"), ("name", "variable"),
        ("conditional", "function"), ("compute", "function"), ("Shape", "class"), ("Shape.area", "method"),
        ("Shape.Inner", "class"), ("Shape.Inner.deep", "method"),
    }
    compute = symbols[("compute", "function")]
    assert compute.signature == "def compute(a: int, b: int = 2) -> int:"
    assert (compute.line, compute.end_line, compute.path) == (13, 15, "geo.py")
    assert symbols[("Shape", "class")].signature == "class Shape(Base):"
    assert symbols[("Shape.area", "method")].parent == "Shape"
    assert symbols[("RETRIES", "variable")].signature == "RETRIES = 3"
    assert symbols[("np", "import alias")].signature == "import numpy as np"


def test_the_table_tracks_files_as_they_change() -> None:
    table = SymbolTable()
    table.set_file("a.py", file_facts("a.py", "def shared():\n    pass\n").symbols)
    table.set_file("b.py", file_facts("b.py", "def shared():\n    pass\ndef only_b():\n    pass\n").symbols)
    assert {s.path for s in table.lookup("shared")} == {"a.py", "b.py"}
    table.set_file("b.py", file_facts("b.py", "def renamed():\n    pass\n").symbols)
    assert {s.path for s in table.lookup("shared")} == {"a.py"}
    assert table.lookup("only_b") == []
    table.remove_file("a.py")
    assert table.lookup("shared") == [] and len(table) == 1
