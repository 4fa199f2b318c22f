"""Run untrusted programs (model completions under test) where they can do little harm.

Each program runs in a child process of its own session and process group, with a wall-clock
timeout and limits on CPU time, address space, file size and processes. Where the kernel allows
(root, or an unprivileged user namespace), the child also gets

- its own network namespace with no interface up, not even loopback: no connection succeeds;
- its own PID namespace: when the program's parent dies, the kernel kills everything the
  program started, including children that left the process group with setsid();
- its own mount namespace in which every mount is read-only except the program's working
  directory, and /tmp, /var/tmp and /dev/shm are private, empty tmpfs that vanish with it;
- and, run as root, the unprivileged user `nobody`, so a write that slips past the mounts
  still meets file permissions.

What was in force is returned with every result (`Isolation`), never assumed. Outcomes are data:
"passed", "failed: <the last line of stderr>" or "timed out".

The process tree of one run, all in one process group:

    run_program (this process)
      └─ launcher: `python -I -S sandbox.py CONFIG`, sets up the namespaces, reports on a pipe
           └─ init: PID 1 of the new PID namespace, reaps orphans; its death kills the rest
                └─ program: limits set, privileges dropped, `python -I program.py`

Without a PID namespace the launcher itself becomes the program. This file runs as the launcher
script, so it imports only the standard library.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import resource
import select
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
# statvfs flag -> mount flag, for the flags a bind remount must repeat (in a user namespace the
# kernel refuses a remount that would clear them)
KEPT_FLAGS = {os.ST_NOSUID: MS_NOSUID, os.ST_NODEV: MS_NODEV, os.ST_NOEXEC: MS_NOEXEC,
              os.ST_NOATIME: MS_NOATIME, os.ST_NODIRATIME: MS_NODIRATIME, os.ST_RELATIME: MS_RELATIME}

SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm")  # world-writable: replaced by private tmpfs
SCRATCH_SIZE = "64m"
UNPRIVILEGED_USER = "nobody"
LAUNCHER_FAILED = 125  # exit code when the sandbox, not the program, failed
STATUS_FD_ENV = "FORECODE_SANDBOX_STATUS"
OUTPUT_TAIL = 4096  # characters of stdout and stderr kept in a result


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 3.0  # wall clock, for the whole process tree
    cpu_s: int | None = None  # RLIMIT_CPU of the program; default: the timeout rounded up
    memory_bytes: int = 1 << 30  # RLIMIT_AS, address space of each process
    file_bytes: int = 64 << 20  # RLIMIT_FSIZE, the largest file it may write (stdout, stderr too)
    # RLIMIT_NPROC, applied when the program runs as `nobody`: it counts all of nobody's
    # processes and threads, so it is shared by the sandboxes running at once
    processes: int = 256

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, not {self.timeout_s}")
        if self.cpu_s is not None and self.cpu_s < 1:
            raise ValueError(f"cpu_s must be at least 1, not {self.cpu_s}")

    @property
    def cpu_limit_s(self) -> int:
        return self.cpu_s if self.cpu_s is not None else max(1, math.ceil(self.timeout_s))


@dataclass(frozen=True)
class Isolation:
    """What was in force for one run."""

    network: bool  # own network namespace, no interface up
    processes: bool  # own PID namespace: nothing the program started outlives it
    filesystem: bool  # read-only everywhere but its working directory and private scratch dirs
    user: str  # the user the program ran as
    missing: tuple[str, ...] = ()  # why each missing piece is missing

    def as_record(self) -> dict[str, Any]:
        return {"network": self.network, "processes": self.processes, "filesystem": self.filesystem,
                "user": self.user, "missing": list(self.missing)}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Isolation:
        return cls(bool(rec.get("network")), bool(rec.get("processes")), bool(rec.get("filesystem")),
                   str(rec.get("user", "")), tuple(str(m) for m in rec.get("missing", ())))


@dataclass(frozen=True)
class Execution:
    outcome: str  # "passed", "failed: <reason>" or "timed out"
    returncode: int | None  # of the launcher; None when it was killed at the timeout
    wall_s: float
    stdout: str  # the last OUTPUT_TAIL characters
    stderr: str
    isolation: Isolation
    pgid: int  # the process group the run had; empty once run_program returns
    workdir: str  # the program's working directory; removed once run_program returns

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


def run_program(source: str, limits: Limits = Limits()) -> Execution:
    """Run the Python program `source` in the sandbox; return once it and all it started are gone."""
    user, uid, gid = _program_user()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="forecode-sandbox-") as private:
        # private/ holds the output files, which the program must not touch; private/work/ is
        # the program's. `nobody` may pass through private/ but not list or read it.
        os.chmod(private, 0o711)
        work = os.path.join(private, "work")
        os.mkdir(work, 0o700)
        program = os.path.join(work, "program.py")
        Path(program).write_text(source, encoding="utf-8")
        if uid is not None and gid is not None:
            os.chown(work, uid, gid)
            os.chown(program, uid, gid)
        config = {
            "workdir": work, "python": sys.executable, "program": program, "user": user, "uid": uid, "gid": gid,
            "cpu_s": limits.cpu_limit_s, "memory_bytes": limits.memory_bytes, "file_bytes": limits.file_bytes,
            "processes": limits.processes, "env": _program_env(work), "needed": _needed_paths(work),
        }
        status_r, status_w = os.pipe()
        stdout_path, stderr_path = os.path.join(private, "stdout"), os.path.join(private, "stderr")
        try:
            with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", os.path.abspath(__file__), json.dumps(config)],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=private, start_new_session=True,
                    pass_fds=(status_w,), env={STATUS_FD_ENV: str(status_w), "PATH": os.environ.get("PATH", "")},
                )
            os.close(status_w)
            status_w = -1
            returncode, status = _wait(proc, status_r, limits.timeout_s)
            wall = time.monotonic() - t0
        finally:
            os.close(status_r)
            if status_w >= 0:
                os.close(status_w)
        stdout, stderr = _tail(stdout_path), _tail(stderr_path)
    isolation = _isolation_of(status, user)
    outcome = _outcome(returncode, stderr, isolation.processes)
    return Execution(outcome, returncode, wall, stdout, stderr, isolation, proc.pid, work)


def _wait(proc: subprocess.Popen[bytes], status_fd: int, timeout_s: float) -> tuple[int | None, dict[str, Any]]:
    """Wait for the launcher; at the timeout kill everything it started. Returns (its exit code,
    or None at the timeout; its report)."""
    try:
        returncode: int | None = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        returncode = None
    if returncode is not None:
        _kill_group(proc.pid)  # stragglers still in the group, when there is no PID namespace
        return returncode, _read_report(status_fd)
    os.set_blocking(status_fd, False)
    report = _read_report(status_fd)
    # With a PID namespace, kill its init rather than the group: the kernel then kills the rest
    # of the namespace, setsid() escapees included, before the launcher can reap the init. (A
    # killed launcher would leave the init to the machine's PID 1 to reap, which may never come.)
    # The launcher is alive, so the init it reported cannot have been reaped: its PID is still its.
    if (init_fd := _pidfd(report.get("init_pid"))) is not None:
        try:
            signal.pidfd_send_signal(init_fd, signal.SIGKILL)
        except ProcessLookupError:
            pass
        finally:
            os.close(init_fd)
        try:
            proc.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            pass
    _kill_group(proc.pid)
    proc.wait()
    return None, report


def _pidfd(pid: Any) -> int | None:
    if not isinstance(pid, int):
        return None
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None


def probe_isolation() -> Isolation:
    """What isolation the sandbox gets on this machine, from a run of an empty program."""
    return run_program("").isolation


def _program_user() -> tuple[str, int | None, int | None]:
    """Who the program runs as: `nobody` when we are root, else ourselves."""
    import pwd

    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam(UNPRIVILEGED_USER)
            return entry.pw_name, entry.pw_uid, entry.pw_gid
        except KeyError:
            return "root", None, None
    try:
        return pwd.getpwuid(os.geteuid()).pw_name, None, None
    except KeyError:
        return str(os.geteuid()), None, None


def _needed_paths(work: str) -> list[str]:
    """What the program's user must be able to reach: its directory and the interpreter's files."""
    exe = os.path.realpath(sys.executable)
    paths = [work, os.path.dirname(exe), os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)]
    return list(dict.fromkeys(paths))


def _program_env(work: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": work, "TMPDIR": work, "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    }


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_report(fd: int) -> dict[str, Any]:
    """The launcher's JSON lines: what it set up, then the PID of the namespace's init."""
    data = b""
    try:
        while chunk := os.read(fd, 65536):
            data += chunk
    except BlockingIOError:
        pass
    report: dict[str, Any] = {}
    for line in data.splitlines():
        try:
            report.update(json.loads(line))
        except json.JSONDecodeError:
            pass
    return report


def _isolation_of(report: dict[str, Any], user: str) -> Isolation:
    if "network" not in report:
        return Isolation(False, False, False, user, ("the sandbox launcher died before reporting",))
    return Isolation.from_record(report)


def _tail(path: str) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 4 * OUTPUT_TAIL))
        return f.read().decode("utf-8", errors="replace")[-OUTPUT_TAIL:]


def _outcome(returncode: int | None, stderr: str, via_init: bool) -> str:
    if returncode is None:
        return "timed out"
    if returncode == 0:
        return "passed"
    sig = _signal_of(returncode, via_init)
    if sig == signal.SIGXCPU:
        return "timed out"  # the CPU limit, before the wall clock
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    if sig is not None:
        reason = f"killed by {signal.Signals(sig).name}"
        if sig == signal.SIGXFSZ:
            reason += " (file size limit)"
    elif lines:
        reason = lines[-1][:200]
    else:
        reason = f"exit code {returncode}"
    return f"failed: {reason}"


def _signal_of(returncode: int, via_init: bool) -> int | None:
    """The signal that ended the program: Popen reports -N; the PID-namespace init exits 128+N."""
    if returncode < 0:
        return -returncode
    if via_init and 128 < returncode < 128 + signal.NSIG:
        return returncode - 128
    return None


# --- The launcher: runs in the child, as `python -I -S sandbox.py CONFIG` -----------------------


class _Libc:
    def __init__(self) -> None:
        self.lib = ctypes.CDLL(None, use_errno=True)
        self.lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        self.lib.unshare.argtypes = [ctypes.c_int]

    def unshare(self, flags: int) -> str | None:
        """None on success, else the reason."""
        return None if self.lib.unshare(flags) == 0 else os.strerror(ctypes.get_errno())

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> str | None:
        def enc(s: str | None) -> bytes | None:
            return None if s is None else s.encode()

        rc = self.lib.mount(enc(source), enc(target), enc(fstype), flags, enc(data))
        return None if rc == 0 else os.strerror(ctypes.get_errno())


@dataclass
class _Report:
    network: bool = False
    processes: bool = False
    filesystem: bool = False
    user: str = ""
    missing: list[str] = field(default_factory=list)


def _launch(config: dict[str, Any]) -> NoReturn:
    report = _Report(user=config["user"])
    confined = False
    try:
        libc = _Libc()
        if os.geteuid() != 0:
            _enter_user_namespace(libc, report)
        if (why := libc.unshare(CLONE_NEWNET)) is None:
            report.network = True
        else:
            report.missing.append(f"network: unshare(CLONE_NEWNET) failed: {why}")
        if (why := libc.unshare(CLONE_NEWNS)) is None:
            confined = _confine_filesystem(libc, config["workdir"], config["needed"], report.missing)
        else:
            report.missing.append(f"filesystem: unshare(CLONE_NEWNS) failed: {why}")
        if config["uid"] is not None and (why := _open_paths(libc, config["needed"], confined)) is not None:
            config["uid"] = None  # run as ourselves (root) rather than not at all
            report.user = "root"
            report.missing.append(f"user: {config['user']} cannot run the program: {why}")
        if os.geteuid() == 0 and config["uid"] is None and confined:
            confined = False
            report.missing.append("filesystem: the program runs as root, which could undo the read-only mounts")
        report.filesystem = confined
        if (why := libc.unshare(CLONE_NEWPID)) is None:
            report.processes = True
        else:
            report.missing.append(f"processes: unshare(CLONE_NEWPID) failed: {why}")
    except Exception as exc:  # report what we have; the program still runs under its limits
        report.missing.append(f"sandbox setup failed: {exc!r}")
    status_fd = int(os.environ.get(STATUS_FD_ENV, "-1"))
    _send(status_fd, report.__dict__)
    if not report.processes:
        _close(status_fd)
        _become_program(config)
    pid = os.fork()  # the child is PID 1 of the new namespace
    if pid == 0:
        _close(status_fd)
        _init(config)
    _send(status_fd, {"init_pid": pid})
    _close(status_fd)
    # The init's exit returns only after the kernel has killed the rest of its namespace.
    os._exit(_exit_code(os.waitpid(pid, 0)[1]))


def _send(fd: int, message: dict[str, Any]) -> None:
    if fd >= 0:
        os.write(fd, json.dumps(message).encode() + b"\n")


def _close(fd: int) -> None:
    if fd >= 0:
        os.close(fd)


def _enter_user_namespace(libc: _Libc, report: _Report) -> None:
    """Unprivileged: a user namespace that maps us to ourselves gives the rights to make the others."""
    uid, gid = os.geteuid(), os.getegid()
    if (why := libc.unshare(CLONE_NEWUSER)) is not None:
        report.missing.append(f"user namespace: unshare(CLONE_NEWUSER) failed: {why}")
        return
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def _confine_filesystem(libc: _Libc, workdir: str, needed: list[str], missing: list[str]) -> bool:
    """In the new mount namespace: everything read-only, private scratch dirs, the workdir writable.

    Paths the program needs that lie under a scratch dir (the working directory; an interpreter
    or virtualenv under /tmp, as in a fresh clone there) are bound back into the new tmpfs, the
    interpreter's read-only."""
    scratch = [d for d in SCRATCH_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    covered = [workdir] + [
        p for p in needed if p != workdir and any(p == d or p.startswith(d + "/") for d in scratch) and os.path.exists(p)
    ]
    fds = {p: os.open(p, os.O_PATH) for p in covered}  # reachable after /tmp is covered
    try:
        if (why := libc.mount(None, "/", None, MS_REC | MS_PRIVATE)) is not None:
            missing.append(f"filesystem: making mounts private failed: {why}")
            return False
        ok = True
        for point in _mount_points():
            if any(point == d or point.startswith(d + "/") for d in scratch):
                continue  # covered by a private tmpfs below
            try:
                flags = _kept_flags(point)
            except OSError:
                continue  # a stale mount point, not reachable by path
            if (why := libc.mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)) is not None:
                missing.append(f"filesystem: {point} stayed writable: {why}")
                ok = False
        for d in scratch:
            if (why := libc.mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={SCRATCH_SIZE}")) is not None:
                missing.append(f"filesystem: no private {d}: {why}")
                ok = False
        for path, fd in fds.items():
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                os.makedirs(path, exist_ok=True)  # on the new tmpfs when it was under /tmp
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                if not os.path.exists(path):
                    open(path, "x").close()
            if (why := libc.mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)) is not None:
                missing.append(f"filesystem: binding {path} back failed: {why}")
                return False
            # the bind inherits the read-only flag of the mount it came from: lift it for the workdir
            extra = 0 if path == workdir else MS_RDONLY
            if (why := libc.mount(None, path, None, MS_REMOUNT | MS_BIND | extra | _kept_flags(path))) is not None:
                missing.append(f"filesystem: {path} kept the wrong write mode: {why}")
        return ok
    finally:
        for fd in fds.values():
            os.close(fd)


def _open_paths(libc: _Libc, paths: list[str], can_mount: bool) -> str | None:
    """Let an unprivileged user reach `paths` (the interpreter, the working directory).

    An interpreter under /root (pyenv, for one) sits behind a directory only root may enter. In
    our mount namespace such a directory is covered with an empty tmpfs that anyone may enter,
    with just the one entry on the path bound back into it; the rest of it stays hidden.
    Returns None when every path is reachable, else why not.
    """
    for path in paths:
        parts = Path(path).parts
        for i in range(1, len(parts)):
            parent = os.path.join(*parts[:i])
            if os.stat(parent).st_mode & stat.S_IXOTH:
                continue
            if not can_mount:
                return f"{parent} is closed to other users and there is no mount namespace to open a way through"
            child = os.path.join(parent, parts[i])
            child_fd = os.open(child, os.O_PATH)
            try:
                if (why := libc.mount("tmpfs", parent, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")) is not None:
                    return f"covering {parent} failed: {why}"
                if stat.S_ISDIR(os.fstat(child_fd).st_mode):
                    os.mkdir(child)
                else:
                    open(child, "x").close()
                if (why := libc.mount(f"/proc/self/fd/{child_fd}", child, None, MS_BIND)) is not None:
                    return f"binding {child} failed: {why}"
                libc.mount(None, parent, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            finally:
                os.close(child_fd)
    return None


def _mount_points() -> list[str]:
    points: list[str] = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split(" ")
            point = _unescape(fields[4])
            if point not in points:
                points.append(point)
    return points


def _unescape(path: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040)."""
    if "\\" not in path:
        return path
    out, i = "", 0
    while i < len(path):
        if path[i] == "\\" and path[i + 1 : i + 4].isdigit() and i + 4 <= len(path):
            out += chr(int(path[i + 1 : i + 4], 8))
            i += 4
        else:
            out += path[i]
            i += 1
    return out


def _kept_flags(point: str) -> int:
    have = os.statvfs(point).f_flag
    return sum(ms for st, ms in KEPT_FLAGS.items() if have & st)


def _init(config: dict[str, Any]) -> NoReturn:
    """PID 1 of the namespace: run the program, reap orphans, exit with the program's status."""
    pid = os.fork()
    if pid == 0:
        _become_program(config)
    while True:
        try:
            done, status = os.wait()
        except ChildProcessError:
            os._exit(LAUNCHER_FAILED)
        if done == pid:
            os._exit(_exit_code(status))  # the kernel now kills whatever else lives in here


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def _become_program(config: dict[str, Any]) -> NoReturn:
    try:
        os.chdir(config["workdir"])
        cpu = int(config["cpu_s"])
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU first, SIGKILL a second later
        resource.setrlimit(resource.RLIMIT_AS, (config["memory_bytes"], config["memory_bytes"]))
        resource.setrlimit(resource.RLIMIT_FSIZE, (config["file_bytes"], config["file_bytes"]))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if config["uid"] is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (config["processes"], config["processes"]))
            os.setgroups([])
            os.setgid(config["gid"])
            os.setuid(config["uid"])
        python = config["python"]
        os.execve(python, [python, "-I", "-B", config["program"]], config["env"])
    except BaseException as exc:
        os.write(2, f"sandbox: could not start the program: {exc!r}\n".encode())
        os._exit(LAUNCHER_FAILED)


if __name__ == "__main__":
    _launch(json.loads(sys.argv[1]))
