from __future__ import annotations

from forecode.corpus.language import detect_language


def test_language_by_extension() -> None:
    assert detect_language("pkg/mod.py") == "python"
    assert detect_language("a/b.PYI") == "python"
    assert detect_language("x.rs") == "rust"
    assert detect_language("x.unknownext") is None


def test_language_by_shebang() -> None:
    assert detect_language("bin/tool", "#!/usr/bin/env python3") == "python"
    assert detect_language("bin/tool", "#!/usr/bin/python3.11 -u") == "python"
    assert detect_language("bin/run", "#!/bin/bash") == "shell"
    assert detect_language("bin/run", "#!/usr/bin/env -S node --flag") == "javascript"
    assert detect_language("README", "just text") is None
