"""`forecode bench serve`, short: a real server subprocess, real stdlib files, zero errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forecode.cli import main


def test_bench_serve_reports_throughput_latency_and_memory(memorised_checkpoint: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "serve", "--clients", "2", "--duration", "3", "--json", "--model", str(memorised_checkpoint),
            "--threads", "1", "--max-tokens", "16"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["errors"] == 0 and report["requests"] > 0
    assert report["clients"] == 2 and report["model"] == memorised_checkpoint.name
    assert 0 < report["p50_ms"] <= report["p95_ms"] <= report["max_ms"]
    assert report["generated_tokens"] > 0 and report["server_rss_mib"] > 0
