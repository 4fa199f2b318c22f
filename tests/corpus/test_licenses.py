from __future__ import annotations

import email.parser

import pytest

from forecode.corpus.licenses import (
    is_permissive,
    license_from_metadata,
    license_from_text,
)


def meta(text: str) -> str:
    return license_from_metadata(email.parser.HeaderParser().parsestr(text))


def test_license_from_metadata_fields() -> None:
    assert meta("Name: a\nLicense-Expression: MIT OR Apache-2.0\n") == "MIT OR Apache-2.0"
    assert meta("Name: a\nLicense: BSD License\n") == "BSD-3-Clause"
    assert meta("Name: a\nClassifier: License :: OSI Approved :: Apache Software License\n") == "Apache-2.0"
    assert meta("Name: a\n") == "unknown"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Permission is hereby granted, free of charge, to any person", "MIT"),
        ("Apache License\n Version 2.0, January 2004", "Apache-2.0"),
        ("Redistribution and use in source and binary forms ... Neither the name of", "BSD-3-Clause"),
        ("Redistribution and use in source and binary forms, with or without", "BSD-2-Clause"),
        ("GNU LESSER GENERAL PUBLIC LICENSE Version 3", "LGPL-3.0"),
        ("GNU GENERAL PUBLIC LICENSE Version 2", "GPL-2.0"),
        ("This is free and unencumbered software released into the public domain.", "Unlicense"),
        ("All rights reserved.", "unknown"),
    ],
)
def test_license_from_text(text: str, expected: str) -> None:
    assert license_from_text(text) == expected


def test_is_permissive() -> None:
    assert is_permissive("MIT") and is_permissive("BSD-3-Clause") and is_permissive("PSF-2.0")
    assert not is_permissive("unknown") and not is_permissive("GPL-3.0-or-later") and not is_permissive("MPL-2.0")
    assert is_permissive("GPL-2.0 OR MIT")
    assert not is_permissive("MIT AND GPL-3.0")
    assert is_permissive("Apache-2.0 AND MIT")


def test_torch_style_compound_licence_is_permissive() -> None:
    # torch 2.13's License-Expression: the Boost licence and an LLVM exception are permissive too.
    from forecode.corpus.licenses import is_permissive

    assert is_permissive("Apache-2.0 AND Apache-2.0 WITH LLVM-exception AND BSD-2-Clause AND BSL-1.0 AND MIT")
    assert not is_permissive("Apache-2.0 AND GPL-3.0-only")
