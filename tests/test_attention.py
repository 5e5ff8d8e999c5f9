"""Attention from scratch agrees with PyTorch's own operators; positional encodings have their promised properties."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llm_workshop.concepts import attention
from llm_workshop.exercises import m1_3


@pytest.fixture
def qkv():
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(2, 3, 7, 16, generator=generator) for _ in range(3)]


def test_sdpa_matches_torch(qkv):
    q, k, v = qkv
    out, weights = attention.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), atol=1e-5, rtol=0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 7))


def test_sdpa_causal_matches_torch(qkv):
    q, k, v = qkv
    out, weights = attention.scaled_dot_product_attention(q, k, v, mask=attention.causal_mask(7))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-5, rtol=0)
    assert torch.all(weights.triu(diagonal=1) == 0), "a query attended to a future key"


def test_sdpa_additive_mask_equals_boolean_mask(qkv):
    q, k, v = qkv
    keep = torch.rand(7, 7, generator=torch.Generator().manual_seed(1)) > 0.3
    keep.fill_diagonal_(True)
    additive = torch.zeros(7, 7).masked_fill(~keep, float("-inf"))
    out_bool, _ = attention.scaled_dot_product_attention(q, k, v, mask=keep)
    out_add, _ = attention.scaled_dot_product_attention(q, k, v, mask=additive)
    torch.testing.assert_close(out_bool, out_add)
    torch.testing.assert_close(out_bool, F.scaled_dot_product_attention(q, k, v, attn_mask=keep), atol=1e-5, rtol=0)


def test_sdpa_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="last dimension"):
        attention.scaled_dot_product_attention(torch.randn(4, 8), torch.randn(4, 6), torch.randn(4, 8))
    with pytest.raises(ValueError, match="same length"):
        attention.scaled_dot_product_attention(torch.randn(4, 8), torch.randn(4, 8), torch.randn(5, 8))


def test_causal_mask_shape_and_content():
    mask = attention.causal_mask(4)
    assert mask.dtype == torch.bool
    assert mask.tolist() == [
        [True, False, False, False],
        [True, True, False, False],
        [True, True, True, False],
        [True] * 4,
    ]
    with pytest.raises(ValueError):
        attention.causal_mask(0)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_matches_torch(bias, causal):
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(32, 4, bias=bias, batch_first=True)
    ours = attention.MultiHeadAttention(32, 4, bias=bias).load_from_torch(reference)
    x = torch.randn(3, 6, 32)
    mask = attention.causal_mask(6) if causal else None
    out, weights = ours(x, mask=mask)
    # PyTorch's boolean attn_mask means the opposite: True = *not* allowed to attend.
    expected, expected_weights = reference(
        x, x, x, attn_mask=None if mask is None else ~mask, average_attn_weights=False
    )
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(weights, expected_weights, atol=1e-5, rtol=0)


def test_multi_head_cross_attention_matches_torch():
    torch.manual_seed(1)
    reference = nn.MultiheadAttention(16, 2, batch_first=True)
    ours = attention.MultiHeadAttention(16, 2).load_from_torch(reference)
    query, memory = torch.randn(2, 3, 16), torch.randn(2, 5, 16)
    out, weights = ours(query, memory, memory)
    assert weights.shape == (2, 2, 3, 5)
    torch.testing.assert_close(out, reference(query, memory, memory)[0], atol=1e-5, rtol=0)


def test_multi_head_attention_rejects_indivisible_width():
    with pytest.raises(ValueError, match="divisible"):
        attention.MultiHeadAttention(30, 4)


def test_positional_encoding_properties():
    pe = attention.sinusoidal_positional_encoding(200, 64)
    assert pe.shape == (200, 64)
    assert pe.abs().max() <= 1.0, "values are bounded"
    assert torch.cdist(pe, pe).add(torch.eye(200) * 10).min() > 1e-3, "every position has its own encoding"
    torch.testing.assert_close(pe[:, 0], torch.sin(torch.arange(200.0)))
    torch.testing.assert_close(pe[:, 1], torch.cos(torch.arange(200.0)))


def test_positional_encoding_dot_product_depends_only_on_offset():
    pe = attention.sinusoidal_positional_encoding(300, 32).double()
    gram = pe @ pe.T
    for offset in (0, 1, 5, 40):
        diagonal = torch.diagonal(gram, offset)  # <PE[p], PE[p + offset]> for every p
        assert diagonal.std() < 1e-5, f"offset {offset}: the dot product changes with the absolute position"
    assert not torch.isclose(torch.diagonal(gram, 1)[0], torch.diagonal(gram, 5)[0]), "different offsets differ"


def test_positional_encoding_rejects_odd_width():
    with pytest.raises(ValueError, match="even d_model"):
        attention.sinusoidal_positional_encoding(10, 7)


def test_check_causal_mask(capsys):
    assert m1_3.check_causal_mask(attention.causal_mask)
    assert not m1_3.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).triu())
    assert not m1_3.check_causal_mask(lambda n: torch.ones(n, n).tril())
    assert not m1_3.check_causal_mask(lambda n: None)
    assert "Not yet" in capsys.readouterr().out
