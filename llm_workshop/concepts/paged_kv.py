"""A paged KV cache: keys and values live in fixed-size blocks from one shared pool, found through a block table.

The idea of vLLM's PagedAttention (Kwon et al., 2023): a sequence holds ceil(length / block_size) blocks that need
not be adjacent, so nothing is reserved for tokens that may never come, and a freed block serves any sequence.
Attention over the paged cache equals attention over a contiguous one (tests/test_paged_kv.py).
"""

from __future__ import annotations

from collections.abc import Hashable

import torch
import torch.nn.functional as F


def locate(block_table: list[int], position: int, block_size: int) -> tuple[int, int]:
    """Where token `position` of a sequence lives: (physical block, offset in the block), via its block table."""
    return block_table[position // block_size], position % block_size


class PagedKVCache:
    """Keys and values of many sequences, `block_size` tokens per block, drawn from a pool of `num_blocks` blocks."""

    def __init__(
        self,
        n_layers: int,
        n_heads: int,
        head_dim: int,
        num_blocks: int,
        block_size: int = 16,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ):
        if block_size < 1 or num_blocks < 1:
            raise ValueError(f"block_size and num_blocks must be >= 1, got {block_size} and {num_blocks}")
        shape = (n_layers, num_blocks * block_size, n_heads, head_dim)  # one row per token slot
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)
        self.block_size = block_size
        self.num_blocks = num_blocks
        self.free_blocks = list(range(num_blocks - 1, -1, -1))  # pop() hands out block 0 first
        self.block_tables: dict[Hashable, list[int]] = {}
        self.lengths: dict[Hashable, int] = {}
        self._slots: dict[Hashable, torch.Tensor] = {}  # every stored position's slot, kept so gather needs no lookups

    def length(self, seq: Hashable) -> int:
        """Tokens stored for `seq` (0 for a sequence not seen yet)."""
        return self.lengths.get(seq, 0)

    def reserve(self, seq: Hashable, n_tokens: int) -> torch.Tensor:
        """Make room for `n_tokens` more tokens of `seq` (new blocks from the pool as needed); return their slots."""
        table = self.block_tables.setdefault(seq, [])
        start = self.lengths.get(seq, 0)
        end = start + n_tokens
        blocks_needed = -(-end // self.block_size) - len(table)  # ceil division
        if blocks_needed > len(self.free_blocks):
            raise RuntimeError(
                f"the KV cache is out of blocks ({blocks_needed} needed, {len(self.free_blocks)} free of "
                f"{self.num_blocks}); free finished sequences or create the cache with more blocks"
            )
        table.extend(self.free_blocks.pop() for _ in range(blocks_needed))
        self.lengths[seq] = end
        new = self.slots(seq, start, end)
        self._slots[seq] = torch.cat([self._slots.get(seq, new[:0]), new])
        return new

    def slots(self, seq: Hashable, start: int, end: int) -> torch.Tensor:
        """Flat slot index (block * block_size + offset) of positions start..end-1 of `seq`."""
        table = self.block_tables[seq]
        places = [locate(table, p, self.block_size) for p in range(start, end)]
        return torch.tensor([block * self.block_size + offset for block, offset in places], dtype=torch.long)

    def write(self, layer: int, slots: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Store keys and values of shape (n_tokens, n_heads, head_dim) in `slots` of `layer`."""
        self.keys[layer, slots.to(self.keys.device)] = keys
        self.values[layer, slots.to(self.keys.device)] = values

    def gather(self, layer: int, seq: Hashable) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of every stored token of `seq` in `layer`, in order: (length, n_heads, head_dim) each."""
        slots = self._slots[seq].to(self.keys.device)
        return self.keys[layer, slots], self.values[layer, slots]

    def free(self, seq: Hashable) -> None:
        """Return the blocks of a finished sequence to the pool."""
        self.free_blocks.extend(reversed(self.block_tables.pop(seq, [])))
        self.lengths.pop(seq, None)
        self._slots.pop(seq, None)

    @property
    def blocks_in_use(self) -> int:
        return self.num_blocks - len(self.free_blocks)


def paged_attention(q: torch.Tensor, cache: PagedKVCache, layer: int, seq: Hashable, scale: float) -> torch.Tensor:
    """Causal attention of the newest `len(q)` tokens of `seq` over its paged keys and values.

    q: (n_new, n_heads, head_dim), for positions length - n_new .. length - 1. Returns the same shape.
    """
    keys, values = cache.gather(layer, seq)
    n_new, length = q.shape[0], keys.shape[0]
    mask = None  # one new token sees every stored token
    if n_new > 1:
        mask = torch.ones(n_new, length, dtype=torch.bool, device=q.device).tril(diagonal=length - n_new)
    out = F.scaled_dot_product_attention(
        q.transpose(0, 1), keys.transpose(0, 1), values.transpose(0, 1), attn_mask=mask, scale=scale
    )
    return out.transpose(0, 1)
