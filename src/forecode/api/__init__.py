"""Adapters that serve the completer: HTTP (OpenAI-compatible) and the Language Server."""
