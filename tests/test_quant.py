"""The from-scratch quantizers match bitsandbytes (NF4) and PyTorch's affine quantization, and reject bad input."""

import bitsandbytes.functional as bnbf
import pytest
import torch

from llm_workshop.concepts import quant
from llm_workshop.exercises import m3_2


@pytest.fixture
def weights():
    torch.manual_seed(0)
    return torch.randn(256, 128) * 0.02


def test_nf4_code_equals_bitsandbytes():
    ours, theirs = quant.nf4_code(), bnbf.get_4bit_type("nf4", device="cpu")
    assert ours.shape == (16,)
    assert (ours - theirs).abs().max() < 2e-7  # derived from normal quantiles: float rounding differs slightly
    assert torch.equal(quant.NF4_TABLE, theirs)  # the published table quantizing uses: identical
    assert ours[7] == 0 and ours[0] == -1 and ours[-1] == 1


def test_nf4_codes_equal_bitsandbytes_bit_for_bit_on_gpt2_shaped_weights():
    """With levels 1.2e-7 off, 2 of these 10 seeds put one weight in another bucket (a 6e-3 error); not any more."""
    for seed in range(10):
        w = torch.randn(768, 2304, generator=torch.Generator().manual_seed(seed)) * 0.02  # GPT-2's c_attn shape
        ours = quant.nf4_quantize(w, blocksize=64)
        packed, state = bnbf.quantize_4bit(w, blocksize=64, quant_type="nf4")
        assert torch.equal(ours.packed, packed.flatten()), seed
        assert torch.equal(quant.nf4_dequantize(ours), bnbf.dequantize_4bit(packed, state)), seed


def test_nf4_codes_and_values_match_bitsandbytes(weights):
    ours = quant.nf4_quantize(weights, blocksize=64)
    packed, state = bnbf.quantize_4bit(weights, blocksize=64, quant_type="nf4")
    assert torch.equal(ours.packed, packed.flatten())
    assert torch.allclose(ours.absmax, state.absmax)
    assert torch.allclose(quant.nf4_dequantize(ours), bnbf.dequantize_4bit(packed, state), atol=1e-6, rtol=0)


def test_nf4_handles_a_partial_last_block():
    torch.manual_seed(1)
    x = torch.randn(1000)  # 15 full blocks of 64 and 40 values left over
    packed, state = bnbf.quantize_4bit(x, blocksize=64, quant_type="nf4")
    assert torch.allclose(quant.nf4_dequantize(quant.nf4_quantize(x)), bnbf.dequantize_4bit(packed, state), atol=1e-6)


def test_double_quant_codes_match_and_error_is_as_small_as_bitsandbytes(weights):
    ours = quant.nf4_quantize(weights, blocksize=64, double_quant=True)
    packed, state = bnbf.quantize_4bit(weights, blocksize=64, quant_type="nf4", compress_statistics=True)
    assert torch.equal(ours.packed, packed.flatten())  # the 4-bit codes use the exact block scales
    ours_err = quant.reconstruction_error(weights, quant.nf4_dequantize(ours))["rmse"]
    bnb_err = quant.reconstruction_error(weights, bnbf.dequantize_4bit(packed, state))["rmse"]
    plain_err = quant.reconstruction_error(weights, quant.nf4_dequantize(quant.nf4_quantize(weights)))["rmse"]
    assert ours_err <= 1.02 * bnb_err
    assert ours_err <= 1.02 * plain_err


def test_bits_per_param(weights):
    assert quant.nf4_bits_per_param(64) == 4.5
    assert quant.nf4_bits_per_param(64, double_quant=True) == pytest.approx(4.127, abs=5e-4)
    assert quant.nf4_quantize(weights).bits_per_param() == 4.5
    stored = quant.nf4_quantize(weights, double_quant=True).bits_per_param()
    assert stored == pytest.approx(quant.nf4_bits_per_param(64, double_quant=True), abs=0.002)


def test_absmax_rowwise_matches_bitsandbytes_int8(weights):
    q, scale = quant.absmax_quantize(weights, bits=8, dim=-1)
    theirs, row_stats, _ = bnbf.int8_vectorwise_quant(weights)
    assert q.dtype == torch.int8 and torch.equal(q, theirs)
    assert torch.allclose(scale.squeeze(1) * 127, row_stats)


def test_absmax_and_zeropoint_match_torch_fake_quantize(weights):
    q, scale = quant.absmax_quantize(weights)
    expected = torch.fake_quantize_per_tensor_affine(weights, scale.item(), 0, -127, 127)
    assert torch.allclose(quant.absmax_dequantize(q, scale), expected, atol=1e-7)
    q, scale, zero = quant.zeropoint_quantize(weights)
    expected = torch.fake_quantize_per_tensor_affine(weights, scale.item(), int(zero), 0, 255)
    assert q.dtype == torch.uint8
    assert torch.allclose(quant.zeropoint_dequantize(q, scale, zero), expected, atol=1e-7)


def test_zeropoint_beats_absmax_on_skewed_values():
    torch.manual_seed(2)
    x = torch.rand(4096)  # all positive: absmax wastes the negative half of its levels
    err_abs = quant.reconstruction_error(x, quant.absmax_dequantize(*quant.absmax_quantize(x)))["rmse"]
    err_zp = quant.reconstruction_error(x, quant.zeropoint_dequantize(*quant.zeropoint_quantize(x)))["rmse"]
    assert err_zp < 0.6 * err_abs


def test_fewer_bits_more_error(weights):
    errors = [
        quant.reconstruction_error(weights, quant.absmax_dequantize(*quant.absmax_quantize(weights, bits)))["rmse"]
        for bits in (8, 6, 4)
    ]
    assert errors[0] < errors[1] < errors[2]


@pytest.mark.parametrize("bits", [1, 9, 4.5])
def test_bad_bits_raise(weights, bits):
    with pytest.raises(ValueError, match="bits"):
        quant.absmax_quantize(weights, bits=bits)
    with pytest.raises(ValueError, match="bits"):
        quant.zeropoint_quantize(weights, bits=bits)


def test_bad_inputs_raise(weights):
    with pytest.raises(ValueError, match="blocksize"):
        quant.nf4_quantize(weights, blocksize=63)
    with pytest.raises(ValueError, match="floating-point"):
        quant.nf4_quantize(torch.arange(10))
    with pytest.raises(ValueError, match="NF4Tensor"):
        quant.nf4_dequantize(weights)
    with pytest.raises(ValueError, match="bits > 0"):
        quant.weight_bytes(1e9, 0)


def test_weight_memory_check(capsys):
    assert quant.weight_bytes(7e9, 4) == 3.5e9
    assert m3_2.check_weight_memory(3.5, 7e9, 4)
    assert not m3_2.check_weight_memory(28.0, 7e9, 4)
    assert "bits, not bytes" in capsys.readouterr().out
    assert not m3_2.check_weight_memory("lots", 7e9, 4)
