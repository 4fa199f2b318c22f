"""Drop or mask a suggestion holding something credential-like (a key, a token, a password).

The detectors are the corpus's (forecode.corpus.secrets), so training data and suggestions share
one list of patterns. The end of the prefix is scanned with the suggestion, since
`password = "` before the cursor is what makes the suggested literal a password.
"""

from __future__ import annotations

from forecode.corpus.secrets import redact_secrets
from forecode.postprocess.candidate import Candidate

NAME = "credentials"
LOOK_BACK = 200  # characters of prefix scanned with the suggestion


def mask_credentials(c: Candidate) -> Candidate:
    if not c.text:
        return c
    before = c.context.prefix[-LOOK_BACK:]
    masked_before, seen_before = redact_secrets(before)
    masked, seen = redact_secrets(before + c.text)
    if seen == seen_before and masked == masked_before + c.text:
        return c
    kinds = ", ".join(sorted(set(seen) - set(seen_before)) or sorted(seen))
    if c.context.secrets == "drop" or not masked.startswith(masked_before):
        return c.drop(NAME, f"credential-like content ({kinds})")
    return c.changed(NAME, masked[len(masked_before) :], f"masked credential-like content ({kinds})")
