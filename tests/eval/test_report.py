"""Per-sample logs resume across runs and survive a torn last line; metrics print as one JSON line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forecode.errors import InputError
from forecode.eval.report import SampleLog, emit_metrics, read_samples


def test_a_rerun_sees_what_the_first_run_wrote(tmp_path: Path) -> None:
    out = tmp_path / "samples.jsonl"
    with SampleLog(out) as log:
        log.write({"task_id": "a", "sample": 0, "passed": True})
        log.write({"task_id": "a", "sample": 1, "passed": False})
    again = SampleLog(out)
    assert set(again.done) == {("a", 0), ("a", 1)}
    with again:
        again.write({"task_id": "b", "passed": True})
    assert [r["task_id"] for r in read_samples(out)] == ["a", "a", "b"]


def test_a_torn_last_line_is_dropped_and_the_file_repaired(tmp_path: Path) -> None:
    out = tmp_path / "samples.jsonl"
    out.write_text('{"task_id": "a", "x": 1}\n{"task_id": "b", "x"')
    log = SampleLog(out)
    assert set(log.done) == {("a", 0)}
    with log:
        log.write({"task_id": "c"})
    assert [json.loads(line)["task_id"] for line in out.read_text().splitlines()] == ["a", "c"]


def test_a_file_that_is_not_a_sample_log_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n{\"task_id\": 1}\n")
    with pytest.raises(InputError, match="bad.jsonl:1 is not JSON"):
        SampleLog(bad)
    bad.write_text('{"id": 1}\n')
    with pytest.raises(InputError, match="no task_id"):
        SampleLog(bad)


def test_json_metrics_are_the_last_line(capsys: pytest.CaptureFixture[str]) -> None:
    emit_metrics({"pass@1": 0.25, "tasks": 4}, as_json=True, title="t")
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"pass@1": 0.25, "tasks": 4}
    emit_metrics({"pass@1": 0.25, "tasks": 4}, as_json=False, title="HumanEval")
    text = capsys.readouterr().out
    assert text.startswith("HumanEval") and "pass@1" in text and "0.25" in text
