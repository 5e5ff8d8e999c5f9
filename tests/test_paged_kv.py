"""The paged KV cache: block-table lookups, blocks handed out and returned, attention equal to contiguous attention."""

import pytest
import torch
import torch.nn.functional as F

from llm_workshop.concepts.paged_kv import PagedKVCache, locate, paged_attention
from llm_workshop.exercises.m2_4 import check_locate

H, D = 2, 8


def test_locate_follows_the_block_table():
    assert locate([7, 2, 9], 0, 4) == (7, 0)
    assert locate([7, 2, 9], 5, 4) == (2, 1)
    assert locate([7, 2, 9], 11, 4) == (9, 3)


def test_blocks_are_allocated_on_demand_and_reused_after_free():
    cache = PagedKVCache(n_layers=1, n_heads=H, head_dim=D, num_blocks=4, block_size=4)
    cache.reserve("a", 5)  # 2 blocks
    cache.reserve("b", 1)  # 1 block
    assert cache.blocks_in_use == 3 and cache.block_tables == {"a": [0, 1], "b": [2]}
    cache.reserve("a", 3)  # 8 tokens fit in its 2 blocks
    assert cache.blocks_in_use == 3 and cache.length("a") == 8
    cache.free("a")
    assert cache.blocks_in_use == 1
    cache.reserve("c", 12)  # reuses a's blocks and the last free one
    assert sorted(cache.block_tables["c"]) == [0, 1, 3]
    with pytest.raises(RuntimeError, match="out of blocks.*free finished sequences"):
        cache.reserve("b", 4)


def test_paged_attention_equals_contiguous_attention():
    """Three sequences grow in turns (a prompt, then one token at a time), so their blocks interleave in the pool;
    attention over the paged cache must equal causal attention over each sequence's contiguous keys and values."""
    generator = torch.Generator().manual_seed(0)
    cache = PagedKVCache(n_layers=2, n_heads=H, head_dim=D, num_blocks=16, block_size=4)
    full = {s: {"q": [], "k": [], "v": []} for s in "abc"}
    chunks = [("a", 6), ("b", 3), ("c", 9), ("a", 1), ("b", 1), ("c", 1), ("a", 5), ("b", 1)]
    for seq, n in chunks:
        q, k, v = (torch.randn(n, H, D, generator=generator) for _ in range(3))
        slots = cache.reserve(seq, n)
        cache.write(1, slots, k, v)
        for name, x in zip("qkv", (q, k, v)):
            full[seq][name].append(x)
        got = paged_attention(q, cache, 1, seq, scale=D**-0.5)
        keys, values = torch.cat(full[seq]["k"]), torch.cat(full[seq]["v"])
        length = keys.shape[0]
        mask = torch.ones(n, length, dtype=torch.bool).tril(diagonal=length - n)
        expected = F.scaled_dot_product_attention(
            q.transpose(0, 1), keys.transpose(0, 1), values.transpose(0, 1), attn_mask=mask
        ).transpose(0, 1)
        torch.testing.assert_close(got, expected)
    assert cache.block_tables["a"] == [0, 1, 6], "a's third block came after b's and c's: not adjacent"
    blocks = [b for table in cache.block_tables.values() for b in table]
    assert len(blocks) == len(set(blocks)), "no block is shared by two sequences"


def test_prompt_attention_matches_is_causal():
    """A whole prompt at once: the paged mask is the ordinary causal mask."""
    generator = torch.Generator().manual_seed(1)
    cache = PagedKVCache(n_layers=1, n_heads=H, head_dim=D, num_blocks=3, block_size=4)
    q, k, v = (torch.randn(10, H, D, generator=generator) for _ in range(3))
    cache.write(0, cache.reserve(0, 10), k, v)
    expected = F.scaled_dot_product_attention(
        q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), is_causal=True
    ).transpose(0, 1)
    torch.testing.assert_close(paged_attention(q, cache, 0, 0, scale=D**-0.5), expected)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="block_size and num_blocks must be >= 1"):
        PagedKVCache(1, H, D, num_blocks=4, block_size=0)


def test_check_locate():
    assert check_locate(locate)
    assert not check_locate(lambda table, position, size: (table[position // size], position // size))
    assert not check_locate(lambda table, position, size: (position // size, position % size))
    assert not check_locate(lambda table, position, size: None)
