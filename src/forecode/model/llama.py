"""A Llama decoder in one file: embedding, RoPE, attention, SwiGLU MLP, RMSNorm, block, model.

Parameter names and shapes are those of transformers' LlamaForCausalLM, so a state dict
moves between the two unchanged (tests/model/test_hf_equivalence.py compares logits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

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
        return rms_norm(x, self.weight, self.eps)


def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """Normalised in float32, scaled in the input's dtype (as transformers does); one fused op
    when that dtype is float32, which decoding one token at a time feels."""
    if x.dtype == torch.float32 and weight.dtype == torch.float32:
        return F.rms_norm(x, (x.shape[-1],), weight, eps)
    normed = F.rms_norm(x.float(), (x.shape[-1],), eps=eps)
    out: Tensor = weight * normed.to(x.dtype)
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


def signed_sin(sin: Tensor) -> Tensor:
    """sin with its first half negated, so that `rotated * sin` in apply_rope becomes
    `x.roll(half) * signed_sin(sin)`: one op instead of three, with the same products."""
    half = sin.shape[-1] // 2
    return torch.cat([-sin[..., :half], sin[..., half:]], dim=-1)


def _rope(x: Tensor, cos: Tensor, sin_signed: Tensor) -> Tensor:
    """apply_rope with `signed_sin` of the table; the same values, bit for bit."""
    return (x * cos + x.roll(x.shape[-1] // 2, dims=-1) * sin_signed).to(x.dtype)


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
        """`sin` is the signed table (`signed_sin`)."""
        B, T, C = x.shape
        q = self.q_proj(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, n_head, T, head_dim)
        k = self.k_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, n_kv_head, T, head_dim)
        v = self.v_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        q, k = _rope(q, cos, sin), _rope(k, cos, sin)
        y = attend(q, k, v, cache, layer, start)
        y = y.transpose(1, 2).reshape(B, T, self.n_head * self.head_dim)
        out: Tensor = self.o_proj(y)
        return out


def attend(q: Tensor, k: Tensor, v: Tensor, cache: KVCache | None, layer: int, start: int) -> Tensor:
    """Causal attention of the new positions (B, n_head, T, head_dim) over the cached ones and
    themselves; k and v (B, n_kv_head, T, head_dim) are written to `cache` (unless None)."""
    T = q.shape[2]
    gqa = k.shape[1] != q.shape[1]
    if cache is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
    cache.k[layer][:, :, start : start + T] = k.to(cache.k[layer].dtype)
    cache.v[layer][:, :, start : start + T] = v.to(cache.v[layer].dtype)
    k_all = cache.k[layer][:, :, : start + T].to(q.dtype)
    v_all = cache.v[layer][:, :, : start + T].to(q.dtype)
    if T == 1:
        return F.scaled_dot_product_attention(q, k_all, v_all, enable_gqa=gqa)
    if start == 0:
        return F.scaled_dot_product_attention(q, k_all, v_all, is_causal=True, enable_gqa=gqa)
    # new positions see every cached one and the new ones up to themselves
    mask = torch.ones(T, start + T, dtype=torch.bool, device=q.device).tril(diagonal=start)
    return F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask, enable_gqa=gqa)


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
        self.rope_sin: Tensor  # signed_sin of the table
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", signed_sin(sin), persistent=False)
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
        x = self.hidden(idx, cache)
        if last_only:
            x = x[:, -1:, :]
        return self.logits(x)

    def hidden(self, idx: Tensor, cache: KVCache | None = None) -> Tensor:
        """The residual stream after the last block (B, T, n_embd), before the final norm:
        `logits` of any of its positions are forward's. Decoding that verifies several draft
        tokens at once turns positions into logits one by one, only as far as it needs."""
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
        return x

    def logits(self, x: Tensor) -> Tensor:
        """Logits (..., vocab) of hidden states (..., n_embd) from `hidden`."""
        out: Tensor = self.lm_head(self.model.norm(x))
        return out


# -- Inference: the same network, its weights regrouped for decoding -------------------------

@dataclass(frozen=True)
class PackedBlock:
    attn_norm: Tensor  # (n_embd,)
    qkv: Tensor  # (n_embd, (n_head + 2 n_kv_head) * head_dim): q_proj, k_proj, v_proj side by side, transposed
    o: Tensor  # (n_head * head_dim, n_embd): o_proj transposed
    mlp_norm: Tensor  # (n_embd,)
    gate_up: Tensor  # (n_embd, 2 * intermediate_size): gate_proj and up_proj side by side, transposed
    down: Tensor  # (intermediate_size, n_embd): down_proj transposed

    @classmethod
    def of(cls, b: Block) -> PackedBlock:
        a, mlp = b.self_attn, b.mlp
        return cls(
            attn_norm=b.input_layernorm.weight.detach(),
            qkv=torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]).t().contiguous(),
            o=a.o_proj.weight.t().contiguous(),
            mlp_norm=b.post_attention_layernorm.weight.detach(),
            gate_up=torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).t().contiguous(),
            down=mlp.down_proj.weight.t().contiguous(),
        )


class PackedLlama:
    """A Llama's weights regrouped for inference, and its forward pass as plain tensor ops.

    Decoding one token at a time on a CPU costs more in per-op overhead than in arithmetic:
    here q, k and v are one matrix product, gate and up another, every weight is stored
    transposed (a row vector times a row-major matrix reads it in order: lm_head's product is
    about a third faster than nn.Linear's), and no nn.Module is called. The values are those
    of `Llama.hidden` and `Llama.logits` up to float32 rounding (tests/model/test_llama_packed.py).
    The matrices are a copy (for forecode-tiny, 20 MiB with the transposed lm_head; embeddings
    and norm weights are shared): later changes to the Llama's matrices are not seen.
    """

    def __init__(self, model: Llama) -> None:
        c = model.config
        self.config = c
        self.n_head, self.n_kv_head, self.head_dim = c.n_head, c.n_kv_head, c.head_dim
        self.rope_cos, self.rope_sin = model.rope_cos, model.rope_sin  # sin signed, as Llama keeps it
        self.max_positions = model.max_positions
        with torch.no_grad():
            self.embed = model.model.embed_tokens.weight.detach()
            self.blocks = [PackedBlock.of(cast(Block, b)) for b in model.model.layers]
            self.norm = model.model.norm.weight.detach()
            self.head = model.lm_head.weight.detach().t().contiguous()  # (n_embd, vocab)
        self.eps = c.norm_eps

    def hidden(self, idx: Tensor, cache: KVCache) -> Tensor:
        """Llama.hidden with a cache: the residual stream (B, T, n_embd) for ids (B, T) that
        continue the cached positions; the cache grows by T."""
        B, T = idx.shape
        start = cache.length
        if start + T > min(self.max_positions, cache.capacity):
            raise ValueError(f"sequence of {start + T} tokens exceeds the cache's {cache.capacity} slots "
                             f"or the model's {self.max_positions} positions")
        H, Hk, D = self.n_head, self.n_kv_head, self.head_dim
        cos, sin = self.rope_cos[start : start + T], self.rope_sin[start : start + T]
        x = F.embedding(idx, self.embed)  # (B, T, n_embd)
        for i, b in enumerate(self.blocks):
            qkv = (rms_norm(x, b.attn_norm, self.eps) @ b.qkv).view(B, T, H + 2 * Hk, D).transpose(1, 2)  # (B, H + 2 Hk, T, D)
            qk = _rope(qkv[:, : H + Hk], cos, sin)  # q and k rotated together
            y = attend(qk[:, :H], qk[:, H:], qkv[:, H + Hk :], cache, i, start)  # (B, H, T, D)
            x = x + y.transpose(1, 2).reshape(B, T, H * D) @ b.o
            gate_up = rms_norm(x, b.mlp_norm, self.eps) @ b.gate_up  # (B, T, 2 * intermediate_size)
            gate, up = gate_up.chunk(2, dim=-1)
            x = x + (F.silu(gate) * up) @ b.down
        cache.length = start + T
        return x

    def logits(self, x: Tensor) -> Tensor:
        """Llama.logits: (..., vocab) of hidden states (..., n_embd)."""
        return rms_norm(x, self.norm, self.eps) @ self.head
