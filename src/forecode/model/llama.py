"""A Llama decoder in one file: embedding, RoPE, attention, SwiGLU MLP, RMSNorm, block, model.

Parameter names and shapes are those of transformers' LlamaForCausalLM, so a state dict
moves between the two unchanged (tests/model/test_hf_equivalence.py compares logits).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from forecode.model.config import ModelConfig


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        dtype = x.dtype
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        out: Tensor = self.weight * x32.to(dtype)
        return out


def rope_tables(head_dim: int, n_pos: int, theta: float) -> tuple[Tensor, Tensor]:
    """cos and sin, each (n_pos, head_dim), in the half-rotation layout Llama uses."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(n_pos, dtype=torch.float32), inv_freq)  # (n_pos, head_dim/2)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    # x: (B, n_head, T, head_dim); cos, sin: (T, head_dim)
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return (x * cos + rotated * sin).to(x.dtype)


@dataclass
class KVCache:
    """Keys and values of past positions, per layer: (B, n_kv_head, max_T, head_dim)."""

    k: list[Tensor]
    v: list[Tensor]
    length: int = 0  # positions filled

    @classmethod
    def empty(cls, config: ModelConfig, batch: int, max_len: int, dtype: torch.dtype, device: torch.device) -> KVCache:
        shape = (batch, config.n_kv_head, max_len, config.head_dim)
        return cls(
            k=[torch.zeros(shape, dtype=dtype, device=device) for _ in range(config.n_layer)],
            v=[torch.zeros(shape, dtype=dtype, device=device) for _ in range(config.n_layer)],
        )

    @property
    def capacity(self) -> int:
        return self.k[0].shape[2]

    def truncate(self, length: int) -> None:
        """Forget positions from `length` on (the slots are overwritten on the next forward)."""
        self.length = min(self.length, length)


class Attention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = config.n_head, config.n_kv_head, config.head_dim
        self.q_proj = nn.Linear(config.n_embd, config.n_head * config.head_dim, bias=False)
        self.k_proj = nn.Linear(config.n_embd, config.n_kv_head * config.head_dim, bias=False)
        self.v_proj = nn.Linear(config.n_embd, config.n_kv_head * config.head_dim, bias=False)
        self.o_proj = nn.Linear(config.n_head * config.head_dim, config.n_embd, bias=False)

    def forward(
        self, x: Tensor, cos: Tensor, sin: Tensor, cache: KVCache | None, layer: int, start: int
    ) -> Tensor:
        B, T, C = x.shape
        q = self.q_proj(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, n_head, T, head_dim)
        k = self.k_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, n_kv_head, T, head_dim)
        v = self.v_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        gqa = self.n_kv_head != self.n_head
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
        else:
            cache.k[layer][:, :, start : start + T] = k.to(cache.k[layer].dtype)
            cache.v[layer][:, :, start : start + T] = v.to(cache.v[layer].dtype)
            k_all = cache.k[layer][:, :, : start + T].to(q.dtype)
            v_all = cache.v[layer][:, :, : start + T].to(q.dtype)
            if T == 1:
                y = F.scaled_dot_product_attention(q, k_all, v_all, enable_gqa=gqa)
            elif start == 0:
                y = F.scaled_dot_product_attention(q, k_all, v_all, is_causal=True, enable_gqa=gqa)
            else:  # new positions see every cached one and the new ones up to themselves
                mask = torch.ones(T, start + T, dtype=torch.bool, device=x.device).tril(diagonal=start)
                y = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask, enable_gqa=gqa)
        y = y.transpose(1, 2).reshape(B, T, self.n_head * self.head_dim)
        out: Tensor = self.o_proj(y)
        return out


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(config.n_embd, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.n_embd, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.n_embd, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))
        return out


class Block(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(config.n_embd, config.norm_eps)
        self.self_attn = Attention(config)
        self.post_attention_layernorm = RMSNorm(config.n_embd, config.norm_eps)
        self.mlp = MLP(config)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, cache: KVCache | None, layer: int, start: int) -> Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache, layer, start)
        out: Tensor = x + self.mlp(self.post_attention_layernorm(x))
        return out


class Decoder(nn.Module):
    """The body, named `model` inside Llama as in transformers."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.n_embd)
        self.layers = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.norm = RMSNorm(config.n_embd, config.norm_eps)


class Llama(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.model = Decoder(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        # RoPE tables cover twice the trained length, so a longer prompt degrades instead of failing.
        cos, sin = rope_tables(config.head_dim, 2 * config.block_size, config.rope_theta)
        self.rope_cos: Tensor
        self.rope_sin: Tensor
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # scaled init of residual projections (GPT-2)
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / (2 * config.n_layer) ** 0.5)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    @property
    def max_positions(self) -> int:
        return int(self.rope_cos.shape[0])

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self, idx: Tensor, cache: KVCache | None = None, last_only: bool = False
    ) -> Tensor:
        """Logits (B, T, vocab) for token ids `idx` (B, T).

        With a cache, `idx` continues the cached positions and the cache grows by T.
        `last_only` computes logits for the last position alone (prefill for generation).
        """
        B, T = idx.shape
        start = cache.length if cache is not None else 0
        if start + T > self.max_positions:
            raise ValueError(f"sequence of {start + T} tokens exceeds the model's {self.max_positions} positions")
        if cache is not None and start + T > cache.capacity:
            raise ValueError(f"sequence of {start + T} tokens exceeds the cache's {cache.capacity} slots")
        cos, sin = self.rope_cos[start : start + T], self.rope_sin[start : start + T]
        x: Tensor = self.model.embed_tokens(idx)  # (B, T, n_embd)
        for i, block in enumerate(self.model.layers):
            x = block(x, cos, sin, cache, i, start)
        if cache is not None:
            cache.length = start + T
        if last_only:
            x = x[:, -1:, :]
        logits: Tensor = self.lm_head(self.model.norm(x))  # (B, T, vocab)
        return logits
