"""Small workspaces written into a temporary folder, for the index tests."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def git_init(root: Path) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)


PARSER = '''
"""Parsing of invoice records."""

import re

FIELD_SEPARATOR = ";"


def parse_invoice_line(line: str) -> dict[str, str]:
    """Split one invoice line into its named fields."""
    number, customer, amount = line.split(FIELD_SEPARATOR)
    return {"number": number, "customer": customer, "amount": amount}


class InvoiceReader:
    """Reads invoices from a text stream."""

    def __init__(self, stream):
        self.stream = stream

    def read_all(self):
        return [parse_invoice_line(line) for line in self.stream]
'''

PACKAGE = {
    "billing/__init__.py": '''
        from billing.parser import InvoiceReader
        ''',
    "billing/parser.py": PARSER,
    "billing/totals.py": '''
        from .parser import parse_invoice_line
        from . import parser as p


        def total_amount(lines):
            return sum(float(parse_invoice_line(line)["amount"]) for line in lines)
        ''',
    "app.py": '''
        import billing.totals
        from billing import InvoiceReader


        def main(stream):
            reader = InvoiceReader(stream)
            return reader.read_all()
        ''',
}
