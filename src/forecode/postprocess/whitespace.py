"""Normalise whitespace and indentation to the file's style.

The file's style is read off the code around the cursor: tabs or spaces, and the indent width
(the most common step between the indentation of consecutive lines). The suggestion's lines
after its first are re-indented to that style: same depth, the file's unit. Trailing blanks go.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from forecode.postprocess.candidate import Candidate

NAME = "whitespace"
SAMPLE_LINES = 400  # lines each side of the cursor read for the style


@dataclass(frozen=True)
class Style:
    tabs: bool
    width: int  # spaces per level (tabs: 1 tab per level)


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def detect_style(lines: list[str], base: int = 0) -> Style | None:
    """The indentation style of `lines` (the first of which follows a line indented `base`
    columns), or None when they show none."""
    tabbed = spaced = 0
    steps: Counter[int] = Counter()
    previous = base
    for line in lines:
        if not line.strip():
            continue
        lead = _leading(line)
        if lead.startswith("\t"):
            tabbed += 1
        elif lead.startswith(" "):
            spaced += 1
            width = len(lead)
            if width > previous:
                steps[width - previous] += 1
            previous = width
            continue
        previous = len(lead.expandtabs(8)) if lead.startswith("\t") else 0
    if not tabbed and not spaced:
        return None
    if tabbed > spaced:
        return Style(True, 1)
    common = [w for w, _ in steps.most_common() if w in (2, 3, 4, 8)]
    return Style(False, common[0] if common else 4)


def normalise_whitespace(c: Candidate) -> Candidate:
    ctx = c.context
    lines = c.text.split("\n")
    stripped = [ln.rstrip() for ln in lines] if len(lines) > 1 else lines
    text = "\n".join(stripped)
    if len(lines) > 1:
        around = ctx.prefix.split("\n")[-SAMPLE_LINES:] + ctx.suffix.split("\n")[:SAMPLE_LINES]
        base = _leading(ctx.line_prefix + lines[0])
        file_style = detect_style(around)
        own = detect_style(stripped[1:], len(base.expandtabs(8)))
        if file_style is not None and own is not None and own != file_style:
            text = "\n".join([stripped[0]] + [_reindent(ln, base, own, file_style) for ln in stripped[1:]])
            unit = "tabs" if file_style.tabs else f"{file_style.width} spaces"
            return c.changed(NAME, text, f"re-indented to the file's style ({unit})")
    return c.changed(NAME, text, "trailing blanks removed")


def _reindent(line: str, base: str, own: Style, target: Style) -> str:
    """`line` with its indentation rewritten from `own` to `target`; with spaces on both sides,
    only the part deeper than `base` (the cursor line's indentation) is rescaled."""
    if not line.strip():
        return ""
    lead, body = _leading(line), line.lstrip(" \t")
    if own.tabs:
        return " " * (target.width * lead.count("\t")) + lead.replace("\t", "") + body
    columns = len(lead.expandtabs(own.width))
    if target.tabs:
        levels, extra = divmod(columns, own.width)
        return "\t" * levels + " " * extra + body
    base_columns = len(base.expandtabs(own.width))
    if columns < base_columns:
        return line  # shallower than the cursor's line: left as it is
    levels, extra = divmod(columns - base_columns, own.width)
    return " " * (base_columns + levels * target.width + extra) + body
