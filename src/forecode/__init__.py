"""forecode: self-hosted code completion with its own small code model."""

__version__ = "0.1.0"
