"""`forecode bench engine`: the report's shape with tiny settings, unavailable engines, and
the workloads every engine shares. No timing is asserted: a slow machine is not a failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_errors import one_line_error

from forecode.cli import bench_engine, main
from forecode.model.embedded import embedded_model_path
from forecode.tokenizer import CodeTokenizer

TINY = ["--repeats", "1", "--keystrokes", "2", "--prompt-tokens", "64", "--new-tokens", "2", "--threads", "1", "--json"]


def last_json(out: str) -> dict[str, object]:
    report = json.loads(out.strip().splitlines()[-1])
    assert isinstance(report, dict)
    return report


@pytest.mark.slow
def test_smoke_report_has_every_metric_per_scenario_and_engine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "engine", "--engines", "builtin,builtin-plain", *TINY]) == 0
    out = capsys.readouterr().out
    report = last_json(out)
    assert report["threads"] == 1 and report["date"]
    assert set(report["machine"]) >= {"cpu", "cores"}  # type: ignore[arg-type]
    scenarios = report["scenarios"]
    assert isinstance(scenarios, dict) and set(scenarios) == {"typical", "keystrokes"}
    for scenario in scenarios.values():
        assert scenario["model"] and scenario["workload"]
        assert set(scenario["engines"]) == {"builtin", "builtin-plain"}
        for row in scenario["engines"].values():
            assert "unavailable" not in row, row
            assert set(row) >= set(bench_engine.METRICS)
            assert row["p50_ms"] > 0 and row["p95_ms"] >= row["p50_ms"] and row["rss_mb"] > 0
            assert row["ratio_vs_llamacpp"] is None  # llama.cpp was not run
    assert scenarios["typical"]["engines"]["builtin"]["mean_prompt_tokens"] == 64
    assert "random weights" in scenarios["typical"]["model"] and "2048 positions" in scenarios["typical"]["model"]
    table = out.strip().splitlines()[:-1]  # the human-readable table comes first
    assert any(line.split()[:1] == ["builtin-plain"] for line in table)
    assert any("prefill tok/s" in line for line in table)


@pytest.mark.slow
def test_an_unavailable_engine_is_a_row_that_says_why(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_engine, "export_for_llamacpp", lambda *a: (None, "llama-cpp-python is not installed"))
    assert main(["bench", "engine", "--engines", "builtin,llamacpp", "--scenarios", "keystrokes", *TINY]) == 0
    out = capsys.readouterr().out
    rows = last_json(out)["scenarios"]["keystrokes"]["engines"]  # type: ignore[index]
    assert rows["llamacpp"]["unavailable"] == "llama-cpp-python is not installed"
    assert all(rows["llamacpp"][k] is None for k in bench_engine.METRICS)
    assert rows["builtin"]["p50_ms"] > 0 and rows["builtin"]["ratio_vs_llamacpp"] is None
    assert "llamacpp        unavailable: llama-cpp-python is not installed" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--engines", "builtin,vllm"], "unknown engine 'vllm'; choose among builtin, builtin-cache"),
    (["--scenarios", "batch"], "unknown scenario 'batch'; choose among typical, keystrokes"),
])
def test_unknown_names_are_one_line_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert message in one_line_error(["bench", "engine", *argv], capsys)


def test_the_typical_prompts_are_spm_prompts_of_the_asked_length() -> None:
    tokenizer = CodeTokenizer.from_file(embedded_model_path() / "tokenizer.json")
    prompts = bench_engine.typical_prompts(tokenizer, 3, 1500)
    assert len(prompts) == 4  # one more, for the warm-up
    special = tokenizer.special
    for prompt in prompts:
        assert len(prompt) == 1500
        assert prompt[:2] == [special.fim_prefix, special.fim_suffix] and prompt.count(special.fim_middle) == 1
    assert len({tuple(p) for p in prompts}) == 4  # different files: no engine reuses one prompt for the next


def test_the_keystrokes_grow_a_line_one_character_at_a_time() -> None:
    keys = bench_engine.keystroke_documents(bench_engine.KEYS_PER_LINE + 3)
    first, second = keys[0], keys[1]
    assert second.cursor == first.cursor + 1 and second.path == first.path
    typed = second.text[first.cursor : second.cursor]
    assert first.text == second.text[: first.cursor] + second.text[second.cursor :] and typed.strip()
    assert keys[bench_engine.KEYS_PER_LINE].path != first.path  # the next line is in the next file
    assert all(len(k.text) >= bench_engine.MIN_KEYSTROKE_FILE_BYTES // 2 for k in keys)


def test_the_random_checkpoint_has_the_shipped_shape_and_more_positions(tmp_path: Path) -> None:
    from forecode.model.checkpoint import load_checkpoint

    folder = bench_engine.random_checkpoint(tmp_path / "random", 2048)
    ckpt = load_checkpoint(folder)
    shipped = load_checkpoint(embedded_model_path())
    assert ckpt.model.config.block_size == 2048
    assert ckpt.model.num_parameters() == shipped.model.num_parameters()
    assert ckpt.meta["fim_order"] == shipped.meta["fim_order"] == "spm"
