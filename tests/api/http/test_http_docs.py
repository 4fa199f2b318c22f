"""docs/SERVER.md's examples are programs: its curl calls and its OpenAI SDK session run against
a real server, and its `forecode` command lines use options that exist."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from http_fixtures import Running

from forecode.cli import cli, main

DOC = Path(__file__).resolve().parents[3] / "docs" / "SERVER.md"
DEFAULT_BASE = "http://127.0.0.1:8421"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(), flags=re.MULTILINE | re.DOTALL)


CURLS = [line for block in _blocks("sh") for line in block.splitlines() if line.startswith("curl ")]
COMMANDS = [line for block in _blocks("sh") for line in block.splitlines() if "forecode " in line]


@pytest.mark.parametrize("command", CURLS, ids=lambda c: c.split()[2])
def test_each_curl_example_gets_an_answer(command: str, server: Running) -> None:
    out = subprocess.run(["bash", "-c", command.replace(DEFAULT_BASE, server.base) + " --fail-with-body"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    if "/metrics" in command:
        assert "forecode_http_requests_total" in out.stdout
    elif '"stream": true' in command:
        events = [line.removeprefix("data: ") for line in out.stdout.splitlines() if line]
        assert events[-1] == "[DONE]" and all("choices" in json.loads(e) for e in events[:-1])
    else:
        assert "error" not in json.loads(out.stdout)


def test_the_openai_sdk_example_runs(server: Running, capsys: pytest.CaptureFixture[str]) -> None:
    [example] = [b for b in _blocks("python") if "openai.OpenAI" in b]
    exec(compile(example.replace(DEFAULT_BASE, server.base), str(DOC), "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and "[" in printed[0]  # the text and its token log-probabilities, then the stream


@pytest.mark.parametrize("line", COMMANDS)
def test_each_command_line_uses_options_that_exist(line: str) -> None:
    main(["--help"])  # registers the command groups
    argv = shlex.split(line[line.index("forecode "):].split("#")[0])[1:]
    command = cli.commands[argv[0]]
    if argv[0] == "bench":
        command = command.commands[argv[1]]  # type: ignore[attr-defined]
    known = {opt for param in command.params for opt in param.opts}
    assert {a for a in argv if a.startswith("--")} <= known
