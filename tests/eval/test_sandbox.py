"""The sandbox: outcomes as data, and hostile programs contained, each test checking it was."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from forecode.eval.sandbox import Execution, Isolation, Limits, probe_isolation, run_program

QUICK = Limits(timeout_s=2.0)


@pytest.fixture(scope="module")
def isolation() -> Isolation:
    return probe_isolation()


def _skip_unless(on: bool, what: str, isolation: Isolation) -> None:
    if not on:
        pytest.skip(f"{what} isolation is not available here: {'; '.join(isolation.missing) or 'unknown reason'}")


# --- Outcomes ------------------------------------------------------------------------------------


def test_a_clean_exit_passes_and_output_is_kept() -> None:
    result = run_program("print('hello from the sandbox')")
    assert result.outcome == "passed" and result.passed
    assert result.stdout == "hello from the sandbox\n"


def test_an_exception_fails_with_its_last_line() -> None:
    result = run_program("def f(x):\n    raise ValueError(f'bad value {x}')\nf(42)\n")
    assert result.outcome == "failed: ValueError: bad value 42"
    assert not result.passed
    assert "Traceback" in result.stderr


def test_a_nonzero_exit_fails_with_its_code() -> None:
    assert run_program("import sys; sys.exit(3)").outcome == "failed: exit code 3"


def test_a_killed_program_fails_with_the_signal() -> None:
    assert run_program("import os, signal; os.kill(os.getpid(), signal.SIGKILL)").outcome == "failed: killed by SIGKILL"


def test_the_isolation_in_force_is_reported(isolation: Isolation) -> None:
    result = run_program("pass")
    assert result.isolation == isolation
    assert isolation.user
    if not (isolation.network and isolation.processes and isolation.filesystem):
        assert isolation.missing  # every missing piece says why


# --- Hostile programs ----------------------------------------------------------------------------


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def test_an_infinite_loop_times_out_and_its_group_is_gone() -> None:
    t0 = time.monotonic()
    result = run_program("while True:\n    pass\n", QUICK)
    assert result.outcome == "timed out"
    assert time.monotonic() - t0 < QUICK.timeout_s + 2
    assert not _group_exists(result.pgid)


def test_the_cpu_limit_ends_a_busy_program_before_the_wall_clock() -> None:
    result = run_program("while True:\n    pass\n", Limits(timeout_s=20.0, cpu_s=1))
    assert result.outcome == "timed out"
    assert result.wall_s < 10  # one second of CPU, however busy the machine


class _Marked:
    """Processes whose command line carries a unique marker, found by scanning /proc."""

    def __init__(self) -> None:
        self.marker = f"forecode-sandbox-test-{uuid.uuid4().hex}"
        self.code = f"import time; time.sleep(120)  # {self.marker}"

    def pids(self) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        cmdline = f.read()
                    with open(f"/proc/{entry}/stat") as f:
                        state = f.read().rsplit(")", 1)[1].split()[0]
                except OSError:
                    continue
                if self.marker.encode() in cmdline and state != "Z":
                    found.append(int(entry))
        return found

    def run_watched(self, source: str, limits: Limits, expect: int) -> tuple[list[int], Execution]:
        """Run `source`, noting the marked processes seen alive while it ran."""
        seen: list[int] = []

        def watch() -> None:
            deadline = time.monotonic() + limits.timeout_s + 5
            while time.monotonic() < deadline and len(seen) < expect:
                seen[:] = self.pids()
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        result = run_program(source, limits)
        watcher.join()
        return seen, result


@pytest.fixture
def marked() -> Iterator[_Marked]:
    m = _Marked()
    yield m
    for pid in m.pids():  # never leave a survivor behind, even when a test fails
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def _spawner(code: str, leave_group: bool, then: str) -> str:
    return (
        "import os, subprocess, sys\n"
        f"code = {code!r}\n"
        "child = subprocess.Popen([sys.executable, '-c', code])\n"
        "grandparent = subprocess.Popen([sys.executable, '-c', 'import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, \"-c\", sys.argv[1]]); time.sleep(120)', code])\n"
        + (
            "subprocess.Popen([sys.executable, '-c', code], start_new_session=True)\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            "        os.execv(sys.executable, [sys.executable, '-c', code])\n"
            "    os._exit(0)\n"
            if leave_group else ""
        )
        + then
    )


def test_children_and_grandchildren_are_killed_at_the_timeout(marked: _Marked) -> None:
    source = _spawner(marked.code, leave_group=False, then="while True:\n    pass\n")
    seen, result = marked.run_watched(source, QUICK, expect=3)
    assert len(seen) == 3, "the program should have had a child, a grandparent and a grandchild running"
    assert result.outcome == "timed out"
    assert marked.pids() == []


def test_children_that_leave_the_process_group_die_with_the_pid_namespace(marked: _Marked, isolation: Isolation) -> None:
    _skip_unless(isolation.processes, "PID namespace", isolation)
    source = _spawner(marked.code, leave_group=True, then="while True:\n    pass\n")
    seen, result = marked.run_watched(source, QUICK, expect=5)
    assert len(seen) == 5, "the program should have had five marked descendants running"
    assert result.outcome == "timed out"
    assert marked.pids() == []


def test_a_daemon_left_by_a_passing_program_is_killed(marked: _Marked, isolation: Isolation) -> None:
    _skip_unless(isolation.processes, "PID namespace", isolation)
    source = _spawner(marked.code, leave_group=True, then="import time; time.sleep(2)\n")
    seen, result = marked.run_watched(source, Limits(timeout_s=6.0), expect=5)
    assert len(seen) == 5
    assert result.outcome == "passed"
    assert marked.pids() == []


def test_a_huge_allocation_fails_and_the_machine_carries_on() -> None:
    source = "chunks = []\nwhile True:\n    chunks.append(bytearray(10 * 1024 * 1024))\n"
    result = run_program(source, Limits(timeout_s=5.0, memory_bytes=256 << 20))
    assert result.outcome == "failed: MemoryError"
    assert result.wall_s < 5
    assert run_program("print(1)").passed


def test_flooding_stdout_stops_at_the_file_size_limit() -> None:
    result = run_program("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", Limits(timeout_s=5.0, file_bytes=1 << 20))
    assert result.outcome.startswith("failed: ") and "File too large" in result.outcome
    assert len(result.stdout) <= 4096


def test_a_write_outside_the_working_directory_fails(tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    result = run_program(f"open({str(target)!r}, 'w').write('escaped')\n", QUICK)
    assert result.outcome.startswith("failed: ") and "Error" in result.outcome, result.outcome
    assert not target.exists()


def test_a_write_into_the_project_fails(isolation: Isolation) -> None:
    target = Path(__file__).with_name(f"escaped-{uuid.uuid4().hex}.txt")
    try:
        result = run_program(f"open({str(target)!r}, 'w').write('escaped')\n", QUICK)
        assert result.outcome.startswith("failed: "), result.outcome
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


def test_world_writable_scratch_dirs_are_private(isolation: Isolation) -> None:
    _skip_unless(isolation.filesystem, "filesystem", isolation)
    name = f"forecode-escape-{uuid.uuid4().hex}"
    targets = [Path(d) / name for d in ("/tmp", "/dev/shm") if os.path.isdir(d)]
    try:
        source = "".join(f"open({str(t)!r}, 'w').write('escaped')\n" for t in targets)
        assert run_program(source, QUICK).outcome == "passed"  # a private tmpfs takes the writes
        assert not any(t.exists() for t in targets)
    finally:
        for t in targets:
            t.unlink(missing_ok=True)


def test_the_working_directory_is_writable_and_removed_afterwards() -> None:
    source = (
        "import os, tempfile\n"
        "assert os.environ['HOME'] == os.getcwd() == os.environ['TMPDIR']\n"
        "open('out.txt', 'w').write('ok')\n"
        "with tempfile.NamedTemporaryFile() as f:\n"
        "    f.write(b'ok')\n"
        "print(os.getcwd())\n"
    )
    result = run_program(source, QUICK)
    assert result.outcome == "passed", result.stderr
    assert result.stdout.strip() == result.workdir
    assert not os.path.exists(result.workdir)


def test_root_runs_programs_as_nobody(isolation: Isolation) -> None:
    if os.geteuid() != 0:
        pytest.skip("privileges are dropped only when the sandbox runs as root")
    result = run_program("import os; print(os.getuid(), os.getgid())", QUICK)
    assert result.isolation.user == "nobody"
    assert result.stdout.split() == ["65534", "65534"]


@pytest.fixture
def server() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def _connect_program(port: int) -> str:
    return f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1).close()\n"


def test_a_network_connection_fails_inside_the_sandbox(server: socket.socket, isolation: Isolation) -> None:
    _skip_unless(isolation.network, "network", isolation)
    port = server.getsockname()[1]
    outside = subprocess.run([sys.executable, "-c", _connect_program(port)], capture_output=True, timeout=10)
    assert outside.returncode == 0, "the test server should be reachable from outside the sandbox"
    server.accept()[0].close()
    result = run_program(_connect_program(port), QUICK)
    assert result.outcome.startswith("failed: ") and "OSError" in result.outcome, result.outcome
    with pytest.raises(BlockingIOError):
        server.accept()  # no connection arrived
