"""Generation behind one small interface: the built-in engine, later backends for large models."""

from forecode.engine.base import Engine, Generation, GenerationRequest

__all__ = ["Engine", "Generation", "GenerationRequest"]
