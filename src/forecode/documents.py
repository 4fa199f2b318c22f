"""Reading a source file for completion, and turning a line:column position into an offset."""

from __future__ import annotations

from pathlib import Path

from forecode.errors import InputError

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024


def decode_source(data: bytes, name: str) -> str:
    """Text of a source file; binary or non-UTF-8 content is refused with a clear message."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError(f"{name} is {len(data)} bytes; the limit is {MAX_DOCUMENT_BYTES}")
    if b"\x00" in data[:8192]:
        raise InputError(f"{name} looks binary (it contains NUL bytes)")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")  # a BOM is no column in an editor
    except UnicodeDecodeError as exc:
        raise InputError(f"{name} is not valid UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start})") from None


def read_source(path: Path) -> str:
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return decode_source(data, str(path))


def offset_of(text: str, line: int, col: int) -> int:
    """Code-point offset of 1-based `line` and `col` (col counts characters; one past the
    last character of the line is the end of the line)."""
    lines = text.split("\n")
    if line < 1 or line > len(lines):
        raise InputError(f"line {line} is outside the file (1..{len(lines)})")
    content = lines[line - 1].rstrip("\r")
    if col < 1 or col > len(content) + 1:
        raise InputError(f"column {col} is outside line {line}, which has {len(content)} characters (columns 1..{len(content) + 1})")
    return sum(len(ln) + 1 for ln in lines[: line - 1]) + col - 1


def parse_position(spec: str) -> tuple[Path, int, int]:
    """`FILE:LINE:COL` as compilers print it; FILE may itself contain colons."""
    parts = spec.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        raise InputError(f"position {spec!r} is not FILE:LINE:COL (e.g. src/app.py:12:5)")
    return Path(parts[0]), int(parts[1]), int(parts[2])
