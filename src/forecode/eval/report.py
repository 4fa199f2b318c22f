"""Per-sample JSONL logs that a rerun resumes from, and the one-line metrics report."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import click

from forecode.errors import InputError


def read_samples(path: str | Path) -> list[dict[str, Any]]:
    """The samples a previous run wrote; a torn last line (the run was killed) is dropped."""
    path = Path(path)
    if not path.is_file():
        return []
    out: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                if f.readline() == "":  # only the last line may be torn
                    break
                raise InputError(f"{path}:{n} is not JSON; it is not a per-sample file of forecode eval") from None
            if not isinstance(rec, dict) or "task_id" not in rec:
                raise InputError(f"{path}:{n} has no task_id; it is not a per-sample file of forecode eval")
            out.append(rec)
    return out


class SampleLog:
    """Appends one JSON object per sample to `path` (when given) and remembers what is done.

    `done` maps (task_id, sample index) to the record a previous run wrote, so a rerun with the
    same --out skips finished samples and scores the union.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self.done: dict[tuple[str, int], dict[str, Any]] = {}
        self._file: TextIO | None = None
        if self.path:
            for rec in read_samples(self.path):
                self.done[(str(rec["task_id"]), int(rec.get("sample", 0)))] = rec
            self._rewrite_clean()

    def _rewrite_clean(self) -> None:
        """Drop a torn last line, so appended records start on a line of their own."""
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for rec in self.done.values():
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        os.replace(tmp, self.path)

    def __enter__(self) -> SampleLog:
        if self.path:
            self._file = open(self.path, "a", encoding="utf-8")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._file:
            self._file.close()
            self._file = None

    def write(self, record: dict[str, Any]) -> None:
        self.done[(str(record["task_id"]), int(record.get("sample", 0)))] = record
        if self._file:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()

    def records(self) -> Iterator[dict[str, Any]]:
        return iter(self.done.values())


def emit_metrics(metrics: dict[str, Any], as_json: bool, title: str) -> None:
    """A readable table, or with --json one JSON object as the last line of output."""
    if as_json:
        click.echo(json.dumps(metrics, ensure_ascii=False))
        return
    click.echo(title)
    width = max(len(k) for k in metrics) if metrics else 0
    for k, v in metrics.items():
        shown = f"{v:.4g}" if isinstance(v, float) else v
        click.echo(f"  {k:<{width}}  {shown}")
