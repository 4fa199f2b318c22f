"""Architecture hyper-parameters, and their form in a Hugging Face `config.json`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from forecode.errors import CheckpointError


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 8192
    n_layer: int = 4
    n_head: int = 4
    n_kv_head: int = 4
    n_embd: int = 256
    intermediate_size: int = 688  # SwiGLU hidden size, about 8/3 * n_embd
    block_size: int = 1024  # longest sequence trained on, in tokens
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = True

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise CheckpointError(f"n_embd {self.n_embd} is not a multiple of n_head {self.n_head}")
        if self.n_head % self.n_kv_head:
            raise CheckpointError(f"n_head {self.n_head} is not a multiple of n_kv_head {self.n_kv_head}")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def to_hf(self, bos_token_id: int, eos_token_id: int) -> dict[str, Any]:
        """The same architecture as transformers' LlamaConfig sees it."""
        return {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": self.vocab_size,
            "hidden_size": self.n_embd,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.n_layer,
            "num_attention_heads": self.n_head,
            "num_key_value_heads": self.n_kv_head,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "max_position_embeddings": self.block_size,
            "rms_norm_eps": self.norm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": None,
            "attention_bias": False,
            "mlp_bias": False,
            "tie_word_embeddings": self.tie_embeddings,
            "bos_token_id": bos_token_id,
            "eos_token_id": eos_token_id,
            "torch_dtype": "float32",
            "forecode": self.to_dict(),
        }

    @classmethod
    def from_hf(cls, d: dict[str, Any]) -> ModelConfig:
        if "forecode" in d:
            return cls.from_dict(d["forecode"])
        try:
            return cls(
                vocab_size=d["vocab_size"],
                n_layer=d["num_hidden_layers"],
                n_head=d["num_attention_heads"],
                n_kv_head=d.get("num_key_value_heads", d["num_attention_heads"]),
                n_embd=d["hidden_size"],
                intermediate_size=d["intermediate_size"],
                block_size=d.get("max_position_embeddings", 2048),
                rope_theta=d.get("rope_theta", 10000.0),
                norm_eps=d.get("rms_norm_eps", 1e-5),
                tie_embeddings=d.get("tie_word_embeddings", False),
            )
        except KeyError as exc:
            raise CheckpointError(f"config.json lacks {exc.args[0]!r}") from None


PRESETS: dict[str, ModelConfig] = {
    "test": ModelConfig(n_layer=2, n_head=2, n_kv_head=1, n_embd=32, intermediate_size=64, block_size=128),
    "tiny": ModelConfig(n_layer=4, n_head=4, n_kv_head=4, n_embd=256, intermediate_size=688),
    "small": ModelConfig(n_layer=6, n_head=6, n_kv_head=6, n_embd=384, intermediate_size=1024),
    "base": ModelConfig(n_layer=12, n_head=12, n_kv_head=4, n_embd=768, intermediate_size=2048, block_size=2048),
}
