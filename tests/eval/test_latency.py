"""`forecode eval latency`: the positions it times, the percentiles, and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_errors import one_line_error as _error

from forecode.cli import main
from forecode.eval import latency as ev

CODE = '''\
import os


def walk(root):
    # a comment line is never a position
    for name in os.listdir(root):
        if name.startswith("."):
            continue
        yield os.path.join(root, name)


class Tree:
    depth = 3
'''


def test_positions_take_the_kinds_in_turn(tmp_path: Path) -> None:
    path = tmp_path / "walk.py"
    path.write_text(CODE)
    positions = ev.sample_positions([(path, "walk.py")], 12, seed=0)
    assert [p.kind for p in positions] == list(ev.KINDS) * 4
    for p in positions:
        line_start = p.document.rfind("\n", 0, p.cursor) + 1
        before = p.document[line_start : p.cursor]
        assert p.document[p.cursor] == "\n"  # the rest of the line is not typed yet
        assert p.document[: p.cursor] == CODE[: p.cursor]
        original_line = CODE[line_start : CODE.index("\n", line_start)]
        assert not original_line.lstrip().startswith("#")
        if p.kind == "mid_line":
            assert before.strip() and len(before) < len(original_line)
        else:
            assert before == original_line[: len(original_line) - len(original_line.lstrip())]  # the indentation
        if p.kind == "block_body":
            previous = [ln for ln in CODE[:line_start].splitlines() if ln.strip() and not ln.strip().startswith("#")][-1]
            assert previous.rstrip().endswith(":")


def test_positions_are_seeded_and_a_longer_run_extends_a_shorter_one(tmp_path: Path) -> None:
    path = tmp_path / "walk.py"
    path.write_text(CODE)
    files = [(path, "walk.py")]
    short, long = ev.sample_positions(files, 5, seed=1), ev.sample_positions(files, 20, seed=1)
    assert long[:5] == short
    assert ev.sample_positions(files, 20, seed=2) != long
    keys = [(p.task_id, p.sample) for p in long]
    assert len(set(keys)) == len(keys)  # a position drawn twice is two samples


def test_percentile_interpolates_and_is_monotone() -> None:
    values = [40.0, 10.0, 30.0, 20.0]
    assert ev.percentile(values, 0) == 10.0
    assert ev.percentile(values, 50) == 25.0
    assert ev.percentile(values, 100) == 40.0
    assert ev.percentile([7.0], 99) == 7.0
    qs = [ev.percentile(values, q) for q in range(101)]
    assert qs == sorted(qs)


def test_summarize() -> None:
    records = [
        {"total_ms": t, "ttft_ms": t / 2, "decode_ms": 100.0, "new_tokens": 5, "prompt_tokens": 400}
        for t in (10.0, 20.0, 30.0, 40.0)
    ]
    m = ev.summarize(records, threads=3)
    assert (m["p50_ms"], m["ttft_p50_ms"], m["positions"], m["threads"]) == (25.0, 12.5, 4, 3)
    assert m["decode_tokens_per_s"] == 50.0  # 20 tokens in 0.4 s



def test_bad_sources_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert f"source folder {tmp_path / 'nope'} does not exist" in _error(["eval", "latency", "--source", str(tmp_path / "nope")], capsys)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# docs\n")
    assert "has no Python files" in _error(["eval", "latency", "--source", str(tmp_path / "docs")], capsys)
    (tmp_path / "quiet").mkdir()
    (tmp_path / "quiet" / "m.py").write_text("# only a comment\n\n")
    assert "no lines of code" in _error(["eval", "latency", "--source", str(tmp_path / "quiet")], capsys)


@pytest.mark.slow
def test_end_to_end_with_the_embedded_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "proj"
    src.mkdir()
    (src / "walk.py").write_text(CODE)
    out = tmp_path / "latency.jsonl"
    argv = ["eval", "latency", "--source", str(src), "--positions", "3", "--warmup", "1", "--max-tokens", "8",
            "--threads", "1", "--json", "--out", str(out)]
    assert main(argv) == 0
    metrics = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert {"p50_ms", "p95_ms", "p99_ms", "ttft_p50_ms", "decode_tokens_per_s", "positions", "threads"} <= set(metrics)
    assert metrics["positions"] == 3 and metrics["threads"] == 1
    assert 0 < metrics["ttft_p50_ms"] <= metrics["p99_ms"]
    assert 0 < metrics["p50_ms"] <= metrics["p95_ms"] <= metrics["p99_ms"]
    samples = [json.loads(line) for line in out.read_text().splitlines()]
    assert [s["kind"] for s in samples] == list(ev.KINDS)
    assert all(0 <= s["new_tokens"] <= 8 and s["ttft_ms"] <= s["total_ms"] for s in samples)

    assert main(argv) == 0  # resumes: nothing is measured again
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == metrics
    assert "max_tokens=8, not 16" in _error([*argv, "--max-tokens", "16"], capsys)
