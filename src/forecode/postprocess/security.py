"""Security lint of the completed snippet, on Python's syntax tree.

Checks (rule names as reported):
- shell-injection: `shell=True` with a command that is not a literal; `os.system`/`os.popen` of one;
- eval-exec: `eval` or `exec` of something that is not a literal;
- weak-hash: `md5` or `sha1` on a line about passwords;
- hardcoded-password: a password-like name bound to a string literal;
- yaml-load: `yaml.load` without a safe loader;
- tls-verify-off: `verify=False`.
Only findings inside the suggestion are reported; code the user already wrote is theirs. With
`Context.security == "filter"` a suggestion with findings is dropped.
"""

from __future__ import annotations

import ast
import re
import warnings

from forecode.postprocess.candidate import Candidate, Finding, around_cursor

NAME = "security"
_PASSWORD = re.compile(r"(?i)pass(?:word|wd)?|pwd")
_PASSWORD_NAME = re.compile(r"(?i)(?:^|_)(?:pass(?:word|wd)?|pwd|secret)(?:$|_)")
_SAFE_LOADERS = frozenset({"SafeLoader", "CSafeLoader", "BaseLoader"})


def _literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) or (
        isinstance(node, (ast.List, ast.Tuple)) and all(isinstance(e, ast.Constant) for e in node.elts))


def _called(node: ast.Call) -> str:
    """`a.b.c` for a call of a.b.c(...), `f` for f(...), else ""."""
    parts: list[str] = []
    func: ast.AST = node.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
        return ".".join(reversed(parts))
    return ""


def _target_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _password_literal(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) >= 4


def lint(tree: ast.AST, lines: list[str]) -> list[tuple[int, str, str]]:
    """(line, rule, message) for every finding in `tree`; `lines` is its source, for context."""
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Call):
            name = _called(node)
            short = name.rsplit(".", 1)[-1]
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            shell = kw.get("shell")
            if isinstance(shell, ast.Constant) and shell.value is True and node.args and not _literal(node.args[0]):
                found.append((line, "shell-injection", f"{name or 'call'}(..., shell=True) with a command that is not a literal"))
            if name in ("os.system", "os.popen") and node.args and not _literal(node.args[0]):
                found.append((line, "shell-injection", f"{name} of a command that is not a literal"))
            if name in ("eval", "exec") and node.args and not _literal(node.args[0]):
                found.append((line, "eval-exec", f"{name} of something that is not a literal"))
            weak = short in ("md5", "sha1") or (
                name == "hashlib.new" and node.args and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).lower() in ("md5", "sha1"))
            if weak and 0 < line <= len(lines) and _PASSWORD.search(lines[line - 1]):
                found.append((line, "weak-hash", f"{short if short != 'new' else 'md5/sha1'} used on a password; use hashlib.scrypt or a password hash"))
            if name == "yaml.load":
                loader = kw.get("Loader", node.args[1] if len(node.args) > 1 else None)
                if loader is None or _target_name(loader) not in _SAFE_LOADERS:
                    found.append((line, "yaml-load", "yaml.load without a safe loader; use yaml.safe_load"))
            verify = kw.get("verify")
            if isinstance(verify, ast.Constant) and verify.value is False:
                found.append((line, "tls-verify-off", "verify=False turns off certificate checks"))
            for key, value in kw.items():
                if _PASSWORD_NAME.search(key) and _password_literal(value):
                    found.append((line, "hardcoded-password", f"{key}= is a hard-coded string"))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if _PASSWORD_NAME.search(_target_name(t)) and _password_literal(node.value):
                    found.append((line, "hardcoded-password", f"{_target_name(t)} is bound to a hard-coded string"))
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and isinstance(k.value, str) and _PASSWORD_NAME.search(k.value) and _password_literal(v):
                    found.append((getattr(k, "lineno", line), "hardcoded-password", f"{k.value!r} maps to a hard-coded string"))
    return found


def _parse(source: str) -> ast.AST | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like
            return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def lint_suggestion(c: Candidate) -> Candidate:
    ctx = c.context
    if ctx.language != "python" or not c.text.strip():
        return c
    before, after = around_cursor(ctx.prefix, ctx.suffix)
    first = before.count("\n") + 1  # the suggestion's first line, 1-based, in the window
    last = first + c.text.count("\n")
    tries = [before + c.text + after, ctx.line_prefix + c.text + ctx.line_suffix, (ctx.line_prefix + c.text).strip()]
    for n, source in enumerate(tries):
        tree = _parse(source)
        if tree is None:
            continue
        offset = first - 1 if n == 0 else 0
        lo, hi = (first, last) if n == 0 else (1, last - first + 1)
        found = [(ln - offset, rule, msg) for ln, rule, msg in lint(tree, source.split("\n")) if lo <= ln <= hi]
        break
    else:
        return c
    if not found:
        return c
    findings = tuple(Finding(rule, msg, line) for line, rule, msg in sorted(set(found)))
    c = c.with_findings(findings)
    if ctx.security == "filter":
        return c.drop(NAME, ", ".join(sorted({f.rule for f in findings})))
    return c
