"""The README's `forecode eval` commands name commands that exist, with options they take."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from forecode.cli import cli, main

ROOT = Path(__file__).resolve().parents[2]


def _eval_lines() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text()
    lines = re.findall(r"^forecode (eval [^#\n]*?)\s*(?:#.*)?$", readme, flags=re.MULTILINE)
    return [shlex.split(line.replace("[", "").replace("]", "").replace("...", "x")) for line in lines]


def test_readme_shows_every_eval_command() -> None:
    main(["--help"])  # registers the command groups
    shown = {argv[1] for argv in _eval_lines()}
    eval_group = cli.commands["eval"]
    assert shown == set(eval_group.commands), shown ^ set(eval_group.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("argv", _eval_lines(), ids=lambda a: " ".join(a[:2]))
def test_each_option_in_the_readme_exists(argv: list[str]) -> None:
    main(["--help"])
    command = cli.commands["eval"].commands[argv[1]]  # type: ignore[attr-defined]
    known = {opt for param in command.params for opt in param.opts}
    used = {a for a in argv[2:] if a.startswith("--")}
    assert used <= known, used - known


@pytest.mark.parametrize("name", ["benchmarks.sh", "bench_subsets.sh"])
def test_benchmark_script_is_executable(name: str) -> None:
    script = ROOT / "scripts" / name
    assert script.stat().st_mode & 0o111
    assert "source scripts/bench_run.sh" in script.read_text()
    main(["--help"])
    runs = re.findall(r"^run \S+ (\S+)(.*)$", script.read_text(), flags=re.MULTILINE)
    assert runs
    for command, args in runs:
        assert command in cli.commands["eval"].commands  # type: ignore[attr-defined]
        known = {opt for param in cli.commands["eval"].commands[command].params for opt in param.opts}  # type: ignore[attr-defined]
        used = set(re.findall(r"(?<!\S)--[a-z-]+", args))
        assert used <= known, used - known
