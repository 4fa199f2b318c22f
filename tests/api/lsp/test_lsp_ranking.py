"""forecode/identifiers.py, the core the completion items use: jedi's names at a cursor, ranked by
the model on the document as it was before the user began the name."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from forecode.completer import Completer
from forecode.identifiers import JediCompleter, ModelScorer, rank_at_cursor, word_start

TEXT = "import os\n\nos.pa\nprint(os.path)\n"
CURSOR = TEXT.index("os.pa") + len("os.pa")


def test_word_start_finds_the_identifier_before_the_cursor() -> None:
    assert word_start(TEXT, CURSOR) == CURSOR - 2
    assert word_start("x = 漢字", 6) == 4  # identifiers may be CJK
    assert word_start("f(", 2) == 2


def test_jedi_names_are_ranked_by_the_model_at_the_start_of_the_word(memorised_completer: Completer, tmp_path: Path) -> None:
    scorer = ModelScorer(memorised_completer.engine)
    seen: list[tuple[str, int, list[str]]] = []

    def recording(document: str, cursor: int, names: Sequence[str]) -> list[float]:
        seen.append((document, cursor, list(names)))
        return scorer(document, cursor, names)

    candidates = JediCompleter().candidates(TEXT, CURSOR, tmp_path / "m.py")
    assert {"path", "pathsep"} <= {c.name for c in candidates}
    assert all(c.name.lower().startswith("pa") for c in candidates)  # jedi filtered by the typed `pa`
    ranked = rank_at_cursor(TEXT, CURSOR, candidates, recording, max_candidates=3)
    [(document, cursor, names)] = seen
    assert document == "import os\n\nos.\nprint(os.path)\n" and cursor == CURSOR - 2  # `pa` deleted
    assert names == [c.name for c in candidates[:3]]
    assert ranked.start == CURSOR - 2 and ranked.scored == 3
    assert ranked.scores == sorted(scorer(document, cursor, names), reverse=True)
    assert sorted(c.name for c in ranked.names[:3]) == sorted(names)
    assert ranked.names[3:] == candidates[3:]  # beyond the cap: jedi's order
