"""The project's own exception types, translated once at each boundary (CLI, HTTP, LSP)."""


class ForecodeError(Exception):
    """Base for errors a user can act on; the message names the values that were wrong."""


class InputError(ForecodeError):
    """Bad input from the user: missing file, position out of range, binary file, bad option."""


class CheckpointError(ForecodeError):
    """A checkpoint folder that is missing, incomplete or inconsistent."""


class Cancelled(ForecodeError):
    """A request ended before its result: superseded by a newer one for the same document, its
    client went away, or its deadline passed. `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"request cancelled: {reason}")
        self.reason = reason


class Overloaded(ForecodeError):
    """Too many requests are already waiting; the client should retry later."""
