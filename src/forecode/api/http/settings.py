"""What a running server was configured with: a frozen value the CLI builds and the app reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
TOKEN_ENV = "FORECODE_TOKEN"  # where the access token comes from, unless --token-file names a file
DEFAULT_PORT = 8421
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_PROMPT_CHARS = 1_000_000  # prompt + suffix, or the document, in code points
MAX_N = 16  # suggestions per request
MAX_TOKENS = 2048  # per suggestion; the completer caps it further at a quarter of the context
MAX_STOPS = 4


@dataclass(frozen=True)
class ServerSettings:
    model_name: str
    roots: tuple[Path, ...] = field(default_factory=lambda: (Path.cwd().resolve(),))  # workspace allow-list
    token: str | None = None  # when set, every route but /health needs `Authorization: Bearer <token>`
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_prompt_chars: int = DEFAULT_MAX_PROMPT_CHARS

    def __post_init__(self) -> None:
        object.__setattr__(self, "roots", tuple(Path(r).resolve() for r in self.roots))
