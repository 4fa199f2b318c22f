"""The project's own exception types, translated once at each boundary (CLI, HTTP, LSP)."""


class ForecodeError(Exception):
    """Base for errors a user can act on; the message names the values that were wrong."""


class InputError(ForecodeError):
    """Bad input from the user: missing file, position out of range, binary file, bad option."""


class CheckpointError(ForecodeError):
    """A checkpoint folder that is missing, incomplete or inconsistent."""
