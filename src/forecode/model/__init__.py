"""The Transformer, its config, and checkpoint folders that load with no other knowledge."""

from forecode.model.config import ModelConfig
from forecode.model.llama import KVCache, Llama

__all__ = ["KVCache", "Llama", "ModelConfig"]
