"""The import graph: imports as written, resolved to workspace files (absolute, relative, packages)."""

from __future__ import annotations

from forecode.context.facts import file_facts
from forecode.context.imports import ImportedName, resolve_import

FILES = {"pkg/__init__.py", "pkg/core.py", "pkg/sub/__init__.py", "pkg/sub/leaf.py", "pkg/sub/other.py",
         "tool.py", "src/lib/__init__.py", "src/lib/api.py", "src/lib/use.py"}


def _imports(text: str) -> list[ImportedName]:
    return list(file_facts("x.py", text).imports)


def test_import_statements_bind_the_names_they_bind() -> None:
    got = _imports("import a.b\nimport c as d\nfrom .e import f as g, h\nfrom .. import i\nfrom j import *\n")
    assert got == [
        ImportedName("a", "a.b", "", 0, 1), ImportedName("d", "c", "", 0, 2),
        ImportedName("g", "e", "f", 1, 3), ImportedName("h", "e", "h", 1, 3),
        ImportedName("i", "", "i", 2, 4), ImportedName("*", "j", "*", 0, 5),
    ]


def _resolve(importer: str, line: str) -> list[str | None]:
    return [resolve_import(importer, i, FILES) for i in _imports(line)]


def test_absolute_imports_resolve_to_modules_and_packages() -> None:
    assert _resolve("tool.py", "import pkg.core") == ["pkg/core.py"]
    assert _resolve("tool.py", "import pkg.sub") == ["pkg/sub/__init__.py"]
    assert _resolve("tool.py", "from pkg.sub import leaf") == ["pkg/sub/leaf.py"]  # a submodule
    assert _resolve("tool.py", "from pkg import something") == ["pkg/__init__.py"]  # a name in the package
    assert _resolve("tool.py", "import os, numpy") == [None, None]  # outside the workspace


def test_relative_imports_start_from_the_importing_package() -> None:
    assert _resolve("pkg/sub/leaf.py", "from . import other") == ["pkg/sub/other.py"]
    assert _resolve("pkg/sub/leaf.py", "from .other import thing") == ["pkg/sub/other.py"]
    assert _resolve("pkg/sub/leaf.py", "from ..core import thing") == ["pkg/core.py"]
    assert _resolve("pkg/sub/leaf.py", "from .. import core") == ["pkg/core.py"]
    assert _resolve("pkg/sub/leaf.py", "from ... import nothing") == [None]


def test_a_src_layout_resolves_from_its_package_root() -> None:
    assert _resolve("src/lib/use.py", "from lib.api import call") == ["src/lib/api.py"]
    assert _resolve("tool.py", "import lib.api") == ["src/lib/api.py"]
